// agents::MediaRooms, the one table both media-server backends keep: entries
// by (user, stream) and (subscriber, stream), serial Refs that go stale when
// an entry is replaced or erased, then() continuations, the room's object
// made once for every waiter, and the one release path.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "compeit/agents/media_rooms.hpp"

using namespace compeit;
using agents::StreamKey;
using agents::SubKey;

namespace {

struct Pub { std::uint64_t serial = 0; int made = 0; };
struct Sub { std::uint64_t serial = 0; };
using Rooms = agents::MediaRooms<Pub, Sub>;

// Records what the release path hands over.
struct Releaser {
    std::vector<std::string> released;
    void release(Pub&) { released.push_back("pub"); }
    void release(Sub&) { released.push_back("sub"); }
};

}  // namespace

TEST_CASE("MediaRooms: a user's streams are separate entries; refs go stale once replaced or erased") {
    Rooms rooms;
    Releaser r;
    const auto cam = rooms.add_pub(1, StreamKey(7));
    const auto scr = rooms.add_pub(1, StreamKey(7, "screen"));
    CHECK(rooms.find(cam) != rooms.find(scr));
    const auto sub = rooms.add_sub(1, SubKey{8, StreamKey(7, "screen")});
    rooms.add_sub(1, SubKey{8, StreamKey(7)});
    REQUIRE(rooms.find(sub));

    // then(): the step runs with the entry while it is there, `gone` after.
    int ran = 0, gone = 0;
    auto step = rooms.then<int>(scr, [&](int) { ++gone; }, [&](Pub& p, int v) { p.made = v; ++ran; });
    step(5);
    CHECK(ran == 1);
    CHECK(rooms.find(scr)->made == 5);

    // Erasing the screen releases its subscription first, then it; the camera stays.
    rooms.erase_pub(r, 1, StreamKey(7, "screen"));
    CHECK(r.released == std::vector<std::string>{"sub", "pub"});
    CHECK_FALSE(rooms.find(scr));
    CHECK_FALSE(rooms.find(sub));
    CHECK(rooms.find(cam));
    CHECK(rooms.sub(1, SubKey{8, StreamKey(7)}));
    step(6);
    CHECK(gone == 1);
    // A new entry under the same key has a new serial: the old ref stays stale.
    rooms.add_pub(1, StreamKey(7, "screen"));
    CHECK_FALSE(rooms.find(scr));
}

TEST_CASE("MediaRooms: the room's object is made once for every waiter; a room gone meanwhile gets it back") {
    Rooms rooms;
    rooms.open(3);
    std::vector<std::function<bool(agents::RoomObject::Made)>> makers;
    std::vector<std::string> got;
    auto want = [&] {
        rooms.with_object(3, [&](agents::RoomObject::Made m) { got.push_back(m ? *m : "error"); },
                          [&](auto settle) { makers.push_back(settle); });
    };
    want();
    want();
    REQUIRE(makers.size() == 1);  // asked once
    CHECK(makers[0](std::string("pipeline-1")));
    CHECK(got == std::vector<std::string>{"pipeline-1", "pipeline-1"});
    want();  // made: at once
    CHECK(got.size() == 3);

    rooms.open(4);
    rooms.with_object(4, [&](agents::RoomObject::Made) { got.push_back("late"); }, [&](auto settle) { makers.push_back(settle); });
    rooms.erase(4);
    CHECK_FALSE(makers[1](std::string("pipeline-2")));  // the caller releases what it made
    CHECK(got.size() == 3);
}
