// Prometheus metrics: GET /metrics answers with the text exposition format.
// The counters are plain integers where things happen (the core's
// Engine::Stats and Router::Stats, NativeStats here); everything is bumped
// and read on the server's one io_context thread, so nothing is locked, and
// the exposition is built only at scrape time.
#pragma once

#include <cstdint>
#include <string>

#include "compeit/agents/chat_store.hpp"
#include "latency_histogram.hpp"

namespace compeit::native {

class Server;

// The native server's own counters (the core keeps the protocol's).
struct NativeStats {
    std::uint64_t dropped_slow_readers = 0;  // websockets closed for not reading what was queued
    LatencyHistogram chat_commit;            // chat append to durable
    std::uint64_t chat_pending = 0;          // appends waiting for their commit
    std::uint64_t chat_failures = 0;         // appends the store could not keep
    // Handshakes and upgrades refused before the engine sees them.
    std::uint64_t refused_origin = 0;        // a page of an origin not allowed (--allowed-origin)
    std::uint64_t refused_token = 0;         // no valid access token (token mode)
    std::uint64_t refused_draining = 0;      // the server is draining (SIGTERM)
};

// The chat agent's view of the store: every append is timed from the call to
// its completion (which the stores run on the network thread) and counted
// while it waits. Wraps the server's store, which keeps its own type.
class MeteredChatStore final : public agents::ChatStore {
public:
    MeteredChatStore(agents::ChatStore& store, NativeStats& stats) : store_(store), stats_(stats) {}
    void append(agents::ChatMessage m, AppendDone done) override;
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override {
        store_.history(room, before, limit, std::move(done));
    }

private:
    agents::ChatStore& store_;
    NativeStats& stats_;
};

// The whole exposition, made at scrape time from the server's counters.
std::string render_metrics(Server& server);

}  // namespace compeit::native
