// kms::Session: the Kurento JSON-RPC client state machine, fed by hand.
#include <catch2/catch.hpp>

#include "compeit/kms/session.hpp"

using namespace compeit;
using kms::json;
using std::chrono::milliseconds;

namespace {

std::vector<json> sent(kms::Session& s) {
    std::vector<json> out;
    for (const auto& f : s.take_frames()) out.push_back(json::parse(f));
    return out;
}

std::string result(std::int64_t id, json value, const std::string& session = "S1") {
    json r{{"jsonrpc", "2.0"}, {"id", id}, {"result", {{"value", std::move(value)}}}};
    if (!session.empty()) r["result"]["sessionId"] = session;
    return r.dump();
}

// Opens the session and answers its first ping.
void open(kms::Session& s) {
    s.on_open(milliseconds(0));
    const auto frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["method"] == "ping");
    s.on_message(json{{"jsonrpc", "2.0"}, {"id", frames[0]["id"]}, {"result", {{"value", "pong"}}}}.dump());
}

}  // namespace

TEST_CASE("kms session: requests while closed fail at once as disconnected", "[kms]") {
    kms::Session s;
    bool failed = false;
    s.request("create", json{{"type", "MediaPipeline"}}, [&](kms::Result r) {
        REQUIRE_FALSE(r);
        CHECK(r.error().disconnected);
        failed = true;
    });
    CHECK(failed);
    CHECK(s.take_frames().empty());
}

TEST_CASE("kms session: JSON-RPC shape, sessionId learned from the first result and sent after", "[kms]") {
    kms::Session s;
    int outputs = 0;
    s.on_output = [&] { ++outputs; };
    open(s);
    CHECK(outputs == 1);
    std::vector<std::string> got;
    s.request("create", json{{"type", "MediaPipeline"}}, [&](kms::Result r) { got.push_back(r->get<std::string>()); });
    // a second state-creating request waits for the session id the first brings
    s.request("create", json{{"type", "MediaPipeline"}}, [&](kms::Result r) { got.push_back(r->get<std::string>()); });
    auto frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["jsonrpc"] == "2.0");
    CHECK(frames[0]["method"] == "create");
    CHECK(frames[0]["params"]["type"] == "MediaPipeline");
    CHECK_FALSE(frames[0]["params"].contains("sessionId"));
    CHECK(s.pending() == 2);
    s.on_message(result(frames[0]["id"], "P1"));
    CHECK(s.session_id() == "S1");
    frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["params"]["sessionId"] == "S1");
    s.on_message(result(frames[0]["id"], "P2"));
    CHECK(got == std::vector<std::string>{"P1", "P2"});
    CHECK(s.pending() == 0);
}

TEST_CASE("kms session: responses out of order reach their own callbacks", "[kms]") {
    kms::Session s;
    open(s);
    s.request("create", json::object(), [](kms::Result) {});
    s.on_message(result(sent(s)[0]["id"], "P"));
    std::map<std::string, std::string> got;
    for (const char* name : {"a", "b", "c"})
        s.request("invoke", json{{"operation", name}}, [&got, name](kms::Result r) { got[name] = r->get<std::string>(); });
    const auto frames = sent(s);
    REQUIRE(frames.size() == 3);
    s.on_message(result(frames[2]["id"], "C"));
    s.on_message(result(frames[0]["id"], "A"));
    s.on_message(result(frames[1]["id"], "B"));
    s.on_message(result(frames[1]["id"], "again"));  // a stray duplicate is ignored
    CHECK(got == std::map<std::string, std::string>{{"a", "A"}, {"b", "B"}, {"c", "C"}});
}

TEST_CASE("kms session: error answers carry KMS's code, message and type", "[kms]") {
    kms::Session s;
    open(s);
    std::optional<kms::RpcError> err;
    s.request("invoke", json::object(), [&](kms::Result r) { err = r.error(); });
    const auto id = sent(s)[0]["id"];
    s.on_message(json{{"jsonrpc", "2.0"}, {"id", id},
                      {"error", {{"code", 40101}, {"message", "Object 'x' not found"}, {"data", {{"type", "MEDIA_OBJECT_NOT_FOUND"}}}}}}
                     .dump());
    REQUIRE(err);
    CHECK(err->code == 40101);
    CHECK(err->message == "Object 'x' not found");
    CHECK(err->type == "MEDIA_OBJECT_NOT_FOUND");
    CHECK_FALSE(err->disconnected);
}

TEST_CASE("kms session: onEvent goes to the listener of that object and type", "[kms]") {
    kms::Session s;
    open(s);
    std::vector<std::string> got;
    s.listen("E1", "IceCandidateFound", [&](const std::string& o, const std::string& t, const json& d) {
        got.push_back(o + " " + t + " " + d["candidate"]["candidate"].get<std::string>());
    });
    auto event = [](const std::string& object, const std::string& type) {
        json data{{"source", object}, {"type", type}, {"candidate", {{"candidate", "candidate:1"}}}};
        return json{{"jsonrpc", "2.0"}, {"method", "onEvent"},
                    {"params", {{"value", {{"data", data}, {"object", object}, {"type", type}}}}}}
            .dump();
    };
    s.on_message(event("E1", "IceCandidateFound"));
    s.on_message(event("E2", "IceCandidateFound"));
    s.on_message(event("E1", "MediaStateChanged"));
    CHECK(got == std::vector<std::string>{"E1 IceCandidateFound candidate:1"});
    s.unlisten("E1");
    s.on_message(event("E1", "IceCandidateFound"));
    CHECK(got.size() == 1);
}

TEST_CASE("kms session: losing the connection fails everything pending; a reconnect keeps the session", "[kms]") {
    kms::Session s;
    open(s);
    s.request("create", json::object(), [](kms::Result) {});
    s.on_message(result(sent(s)[0]["id"], "P"));
    int failed = 0;
    std::string lost;
    s.on_lost = [&](const std::string& why) { lost = why; };
    s.request("invoke", json::object(), [&](kms::Result r) { failed += !r && r.error().disconnected; });
    s.request("invoke", json::object(), [&](kms::Result r) { failed += !r && r.error().disconnected; });
    s.on_closed("eof");
    CHECK(failed == 2);
    CHECK(lost == "eof");
    CHECK_FALSE(s.is_open());
    CHECK(s.take_frames().empty());
    s.request("invoke", json::object(), [&](kms::Result r) { failed += !r && r.error().disconnected; });
    CHECK(failed == 3);
    bool connected = false;
    s.on_connected = [&] { connected = true; };
    open(s);
    CHECK(connected);
    s.request("release", json{{"object", "P"}}, [](kms::Result) {});
    const auto frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["params"]["sessionId"] == "S1");
}

TEST_CASE("kms session: pings keep the connection checked", "[kms]") {
    kms::Session s(kms::SessionConfig{milliseconds(1000), milliseconds(500)});
    open(s);
    CHECK(s.tick(milliseconds(999)));
    CHECK(s.take_frames().empty());
    CHECK(s.tick(milliseconds(1000)));
    auto frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["method"] == "ping");
    CHECK(frames[0]["params"]["interval"] == 1000);
    s.on_message(json{{"jsonrpc", "2.0"}, {"id", frames[0]["id"]}, {"result", {{"value", "pong"}}}}.dump());
    CHECK(s.tick(milliseconds(2000)));
    frames = sent(s);
    REQUIRE(frames.size() == 1);
    CHECK(s.tick(milliseconds(2499)));
    CHECK_FALSE(s.tick(milliseconds(2500)));  // unanswered: drop the connection
}

TEST_CASE("kms session: malformed input is counted and ignored", "[kms]") {
    kms::Session s;
    open(s);
    bool answered = false;
    s.request("invoke", json::object(), [&](kms::Result) { answered = true; });
    const auto id = sent(s)[0]["id"];
    for (const std::string& junk : std::vector<std::string>{"", "{", "[]", "42", "{\"id\":\"x\",\"result\":1}", "{\"jsonrpc\":\"2.0\"}",
                                   "{\"method\":\"onEvent\",\"params\":3}", "{\"method\":\"onEvent\",\"params\":{\"value\":[]}}",
                                   std::string(200, '[')})
        s.on_message(junk);
    CHECK(s.malformed() >= 7);
    CHECK_FALSE(answered);
    s.on_message(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", 7}}.dump());  // a result without value
    CHECK(answered);
}
