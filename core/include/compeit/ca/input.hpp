// The one way agent code reads what a client sent: a JSON object read into
// typed values without exceptions (STYLE 13). nlohmann's own accessors throw
// on a wrong type (`value("action", "")` on `{action: 5}` ends the process),
// so agents never call them on client data; they read through Input.
//
// An optional field that is null counts as absent; a required one is missing.
// A reader keeps the first problem as "<field> must be <what>", so the
// request_error a client gets names the field. After a problem every read
// returns an empty value: a parse function reads all its fields, then checks
// once:
//
//     ca::Input in(data);
//     const auto user = in.user("user");
//     auto sdp = in.opt_string("sdp", kMaxSdp);
//     if (!in) return unexpected(in.error());
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "compeit/ca/types.hpp"

namespace compeit::ca {

class Input {
public:
    // `object` is the client's value; anything but an object is a problem
    // named after `what` ("data must be an object"). `prefix` names the
    // fields of a nested object ("candidate." gives "candidate.sdpMid must be ...").
    explicit Input(const json& object, std::string_view what = "data", std::string prefix = {});

    explicit operator bool() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    // Records a problem found by the caller (the first one wins).
    void fail(std::string message);

    // A string of at most max_bytes (UTF-8, as the JSON scanner validated it).
    std::string string(std::string_view key, std::size_t max_bytes);
    // Absent or null: nullopt.
    std::optional<std::string> opt_string(std::string_view key, std::size_t max_bytes);
    // Absent: `absent`.
    bool boolean(std::string_view key, bool absent);
    std::optional<bool> opt_boolean(std::string_view key);
    // A user id: an integer from 1 to 2^53-1.
    UserId user(std::string_view key);
    std::optional<UserId> opt_user(std::string_view key);
    // An integer within [min, max]; absent: nullopt.
    std::optional<std::int64_t> opt_integer(std::string_view key, std::int64_t min, std::int64_t max);
    // Present with any JSON value (null included); nullptr after a problem.
    const json* any(std::string_view key);
    // Absent or null: nullptr; an object otherwise.
    const json* opt_object(std::string_view key);

private:
    const json* object_;
    std::string error_;
    std::string prefix_;  // "" or "candidate."

    const json* find(std::string_view key) const;
    bool problem(std::string_view key, std::string_view what);
    std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                        std::string_view what);
};

}  // namespace compeit::ca
