// The cluster engine's I/O: one TCP connection to Redis, in RESP3 (commands
// pipelined, pub/sub pushes on the same socket), for a cluster::Node, which
// does all the protocol work sans I/O. What the node queued is written once
// per loop turn; everything read is decoded (resp::Decoder, bounded) and
// handed to the node, which tells replies from pushes. A lost connection
// fails what was waiting and is retried with backoff.
//
// Hand-written on Asio rather than hiredis: the node already speaks RESP
// (resp.hpp, fuzzed), and a socket on the server's own io_context needs no
// adapter or second event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <functional>
#include <memory>
#include <string>

#include "compeit/cluster/node.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::native {

struct RedisAddress {
    std::string host;
    std::string port = "6379";
};
// redis://HOST[:PORT][/] (no user, password or database: put those behind a
// proxy or in a later version); the reason when it is not one.
Expected<RedisAddress, std::string> parse_redis_url(std::string_view url);

class RedisLink {
public:
    RedisLink(boost::asio::io_context& ioc, RedisAddress address, cluster::Node& node,
              std::function<sio::Time()> now);
    ~RedisLink();
    void start();
    void stop();
    // The node has bytes to write: they go out at the end of this loop turn.
    void flush_soon();
    bool up() const { return up_; }

private:
    struct Conn;
    boost::asio::io_context& ioc_;
    RedisAddress address_;
    cluster::Node& node_;
    std::function<sio::Time()> now_;
    std::shared_ptr<Conn> conn_;
    boost::asio::steady_timer retry_;
    std::chrono::milliseconds backoff_{100};
    bool up_ = false, flush_posted_ = false, stopped_ = false;
    unsigned generation_ = 0;  // connections of an older attempt are ignored

    void connect();
    void lost(unsigned generation, const std::string& why);
    void flush();
    void read(const std::shared_ptr<Conn>& conn, unsigned generation);
    void write(const std::shared_ptr<Conn>& conn, unsigned generation);
};

}  // namespace compeit::native
