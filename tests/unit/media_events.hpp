// The agent's side of a media backend in backend tests: what the backend
// reports on its own (MediaEvents) goes to these functions, when set.
#pragma once

#include <functional>

#include "compeit/agents/media_backend.hpp"

namespace compeit::test {

struct MediaEventsProbe final : agents::MediaEvents {
    std::function<void(ca::UserId to, const agents::StreamKey& stream, ca::json candidate)> candidate;
    std::function<void(ca::RoomId)> room_lost;
    std::function<void(ca::RoomId, const agents::StreamKey&)> stream_lost;

    explicit MediaEventsProbe(agents::MediaBackend& b) : backend(b) { backend.set_events(this); }
    ~MediaEventsProbe() { backend.set_events(nullptr); }
    MediaEventsProbe(const MediaEventsProbe&) = delete;
    MediaEventsProbe& operator=(const MediaEventsProbe&) = delete;

    void media_candidate(ca::UserId to, const agents::StreamKey& s, ca::json c) override {
        if (candidate) candidate(to, s, std::move(c));
    }
    void media_room_lost(ca::RoomId room) override {
        if (room_lost) room_lost(room);
    }
    void media_stream_lost(ca::RoomId room, const agents::StreamKey& s) override {
        if (stream_lost) stream_lost(room, s);
    }

private:
    agents::MediaBackend& backend;
};

}  // namespace compeit::test
