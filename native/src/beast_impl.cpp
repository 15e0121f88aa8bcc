// The one translation unit that compiles Boost.Asio and Boost.Beast
// (BOOST_*_SEPARATE_COMPILATION): every other file includes their headers
// without instantiating the implementation.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
