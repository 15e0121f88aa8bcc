// How Catch2 prints socket.io values in failure messages, so that a failing
// CHECK shows the packet on the wire rather than "{?}".
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "compeit/sio/packet.hpp"

namespace Catch {

template <>
struct StringMaker<compeit::sio::Packet> {
    static std::string convert(const compeit::sio::Packet& p) {
        return "Packet{" + compeit::sio::encode(p) + "}";
    }
};

template <>
struct StringMaker<compeit::sio::DecodeError> {
    static std::string convert(compeit::sio::DecodeError e) { return compeit::sio::to_string(e); }
};

}  // namespace Catch
