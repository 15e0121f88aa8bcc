// The one shape of a media-server backend's state (Kurento and Janus alike):
// per room, the room's own object on the media server (a MediaPipeline, a
// VideoRoom) made once on first use, the published streams keyed by
// StreamKey (user, stream name) and the receiving connections keyed by
// (subscriber, StreamKey). A stream is the same concept here as in the agent.
//
// Every entry carries a serial number. An asynchronous step holds a Ref (the
// keys and the serial) and finds its entry again when the media server
// answers: null once it went or was replaced meanwhile. then() is the one
// way to chain such steps. Entries leave through one release path: erase_*
// hands each to the backend's release(Pub&) / release(Sub&), subscriptions
// of a stream before the stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "compeit/agents/media_backend.hpp"

namespace compeit::agents {

// A receiving connection: who receives which stream.
struct SubKey {
    ca::UserId subscriber = 0;
    StreamKey stream;
    friend bool operator==(const SubKey& a, const SubKey& b) { return a.subscriber == b.subscriber && a.stream == b.stream; }
    friend bool operator<(const SubKey& a, const SubKey& b) {
        return a.subscriber != b.subscriber ? a.subscriber < b.subscriber : a.stream < b.stream;
    }
};

// An entry as an asynchronous step remembers it.
template <class Key>
struct Ref {
    ca::RoomId room = 0;
    Key key;
    std::uint64_t serial = 0;
};
using PubRef = Ref<StreamKey>;
using SubRef = Ref<SubKey>;

// The room's own object on the media server; operations that need it wait
// while it is being made.
struct RoomObject {
    using Made = Expected<std::string, MediaError>;
    std::string id;  // empty until made
    bool creating = false;
    std::vector<std::function<void(Made)>> waiting;
};

// Pub and Sub are the backend's per-entry state; each has a `serial` member.
template <class Pub, class Sub>
class MediaRooms {
public:
    struct Room {
        std::uint64_t serial = 0;
        RoomObject object;
        std::map<StreamKey, Pub> pubs;
        std::map<SubKey, Sub> subs;
    };

    Room& open(ca::RoomId room) {
        auto [it, fresh] = rooms_.try_emplace(room);
        if (fresh) it->second.serial = next_serial_++;
        return it->second;
    }
    Room* find(ca::RoomId room) {
        const auto it = rooms_.find(room);
        return it == rooms_.end() ? nullptr : &it->second;
    }
    const Room* find(ca::RoomId room) const {
        const auto it = rooms_.find(room);
        return it == rooms_.end() ? nullptr : &it->second;
    }
    Room* find(ca::RoomId room, std::uint64_t serial) {
        Room* r = find(room);
        return r && r->serial == serial ? r : nullptr;
    }
    // The entry as it is now, whatever its serial.
    Pub* pub(ca::RoomId room, const StreamKey& key) { return entry(find(room), &Room::pubs, key); }
    Sub* sub(ca::RoomId room, const SubKey& key) { return entry(find(room), &Room::subs, key); }
    // The entry the step began with, or null.
    Pub* find(const PubRef& ref) { return same(pub(ref.room, ref.key), ref.serial); }
    Sub* find(const SubRef& ref) { return same(sub(ref.room, ref.key), ref.serial); }

    // A new entry with a fresh serial (the room must be open; an old entry
    // under that key must have been erased).
    PubRef add_pub(ca::RoomId room, const StreamKey& key) { return add(room, &Room::pubs, key); }
    SubRef add_sub(ca::RoomId room, const SubKey& key) { return add(room, &Room::subs, key); }

    // The continuation of an asynchronous step about `ref`'s entry: `next(entry,
    // result)` when it is still there, `gone(result)` when it went meanwhile.
    template <class Result, class Key, class Gone, class Next>
    std::function<void(Result)> then(Ref<Key> ref, Gone gone, Next next) {
        return [this, ref, gone = std::move(gone), next = std::move(next)](Result result) mutable {
            if (auto* e = find(ref)) return next(*e, std::move(result));
            gone(std::move(result));
        };
    }

    // Runs `cont` with the id of the room's own object. The first caller's
    // `make` asks the media server for it, once; the others wait. make gets a
    // `settle(made)` to call with the outcome; settle returns false when the
    // room went meanwhile (the made object is then the caller's to release).
    template <class Make>
    void with_object(ca::RoomId room, std::function<void(RoomObject::Made)> cont, Make make) {
        Room* r = find(room);
        if (!r) return cont(unexpected(media_gone()));
        if (!r->object.id.empty()) return cont(r->object.id);
        r->object.waiting.push_back(std::move(cont));
        if (std::exchange(r->object.creating, true)) return;
        make([this, room, serial = r->serial](RoomObject::Made made) {
            Room* rm = find(room, serial);
            if (!rm) return false;
            rm->object.creating = false;
            if (made) rm->object.id = *made;
            for (auto& w : std::exchange(rm->object.waiting, {})) w(made);
            return true;
        });
    }

    // --- the one release path ---------------------------------------------
    template <class Backend>
    void erase_sub(Backend& b, ca::RoomId room, const SubKey& key) {
        Room* r = find(room);
        if (!r) return;
        if (const auto it = r->subs.find(key); it != r->subs.end()) {
            b.release(it->second);
            r->subs.erase(it);
        }
    }
    // The stream and everything fed from it.
    template <class Backend>
    void erase_pub(Backend& b, ca::RoomId room, const StreamKey& key) {
        Room* r = find(room);
        if (!r) return;
        erase_subs_if(b, *r, [&](const SubKey& s) { return s.stream == key; });
        if (const auto it = r->pubs.find(key); it != r->pubs.end()) {
            b.release(it->second);
            r->pubs.erase(it);
        }
    }
    template <class Backend, class Pred>
    void erase_subs_if(Backend& b, Room& r, Pred which) {
        for (auto it = r.subs.begin(); it != r.subs.end();) {
            if (!which(it->first)) {
                ++it;
                continue;
            }
            b.release(it->second);
            it = r.subs.erase(it);
        }
    }
    void erase(ca::RoomId room) { rooms_.erase(room); }
    // Forgets every room (the media server lost them) and hands them over.
    std::map<ca::RoomId, Room> take_all() { return std::exchange(rooms_, {}); }

    std::size_t size() const { return rooms_.size(); }
    std::map<ca::RoomId, Room>& all() { return rooms_; }

private:
    std::map<ca::RoomId, Room> rooms_;
    std::uint64_t next_serial_ = 1;

    template <class Map, class Key>
    static auto* entry(Room* r, Map Room::*map, const Key& key) {
        using Value = typename std::remove_reference_t<decltype(r->*map)>::mapped_type;
        if (!r) return static_cast<Value*>(nullptr);
        const auto it = (r->*map).find(key);
        return it == (r->*map).end() ? static_cast<Value*>(nullptr) : &it->second;
    }
    template <class T>
    static T* same(T* e, std::uint64_t serial) {
        return e && e->serial == serial ? e : nullptr;
    }
    template <class Map, class Key>
    Ref<Key> add(ca::RoomId room, Map Room::*map, const Key& key) {
        const std::uint64_t serial = next_serial_++;
        (open(room).*map)[key].serial = serial;
        return Ref<Key>{room, key, serial};
    }
};

}  // namespace compeit::agents
