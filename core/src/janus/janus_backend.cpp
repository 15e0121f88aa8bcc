#include "compeit/janus/janus_backend.hpp"

#include <iterator>
#include <utility>

namespace compeit::janus {

using agents::MediaDone;
using agents::MediaError;
using ca::ErrorCode;

namespace {

constexpr const char* kPlugin = "janus.plugin.videoroom";
constexpr std::size_t kMaxQueuedCandidates = 64;
constexpr int kRoomExists = 427;  // VideoRoom: "Room ... already exists"

MediaError gone() { return MediaError{ErrorCode::unavailable, "the stream went away meanwhile"}; }

// plugindata.data of a Janus reply, or null.
const json* plugin_data(const json& reply) {
    const auto pd = reply.find("plugindata");
    if (pd == reply.end() || !pd->is_object()) return nullptr;
    const auto data = pd->find("data");
    return data != pd->end() && data->is_object() ? &*data : nullptr;
}

// The SDP of the reply's jsep when it has the wanted type.
std::optional<std::string> jsep_sdp(const json& reply, std::string_view type) {
    const auto j = reply.find("jsep");
    if (j == reply.end() || !j->is_object()) return std::nullopt;
    const auto t = j->find("type");
    const auto sdp = j->find("sdp");
    if (t == j->end() || !t->is_string() || *t != type || sdp == j->end() || !sdp->is_string()) return std::nullopt;
    return sdp->get<std::string>();
}

// A candidate Janus trickles ({janus:"trickle", candidate:{...}}) as the
// browser takes it; nullopt for "completed" and anything unusable.
std::optional<json> from_janus_trickle(const json& msg) {
    if (msg.value("janus", "") != "trickle") return std::nullopt;
    const auto c = msg.find("candidate");
    if (c == msg.end() || !c->is_object() || !c->contains("candidate")) return std::nullopt;
    return json{{"candidate", (*c)["candidate"]}, {"sdpMid", c->value("sdpMid", json())},
                {"sdpMLineIndex", c->value("sdpMLineIndex", json())}};
}

bool bad_input(int code) {
    switch (code) {
        case 422: case 423: case 429: case 430: case 431: case 437:  // VideoRoom: bad JSON, request, element, SDP
        case 463: case 464: case 465:                                // core: JSEP missing, unknown type, invalid SDP
            return true;
        default:
            return false;
    }
}

}  // namespace

MediaError to_media_error(const Error& e) {
    if (e.disconnected) return MediaError{ErrorCode::unavailable, e.reason};
    const std::string why = "Janus error " + std::to_string(e.code) + ": " + e.reason;
    if (bad_input(e.code)) return MediaError{ErrorCode::bad_request, why};
    if (e.code == 432) return MediaError{ErrorCode::room_full, why};  // publishers limit reached
    if (e.code == 433) return MediaError{ErrorCode::forbidden, why};  // unauthorized
    return MediaError{ErrorCode::unavailable, why};
}

std::optional<json> to_janus_candidate(const json& browser) {
    if (browser.is_null()) return json{{"completed", true}};
    if (!browser.is_object()) return std::nullopt;
    const auto c = browser.find("candidate");
    if (c == browser.end() || c->is_null() || (c->is_string() && c->get_ref<const std::string&>().empty()))
        return json{{"completed", true}};
    if (!c->is_string()) return std::nullopt;
    json out{{"candidate", *c}};
    if (const auto mid = browser.find("sdpMid"); mid != browser.end() && mid->is_string()) out["sdpMid"] = *mid;
    if (const auto idx = browser.find("sdpMLineIndex");
        idx != browser.end() && idx->is_number_integer() && idx->get<std::int64_t>() >= 0 &&
        idx->get<std::int64_t>() < 1024)
        out["sdpMLineIndex"] = *idx;
    if (!out.contains("sdpMid") && !out.contains("sdpMLineIndex")) out["sdpMLineIndex"] = 0;
    return out;
}

JanusBackend::JanusBackend(Session& session, BackendConfig config) : session_(session), config_(std::move(config)) {
    session_.on_connected = [this] { on_connected(); };
    session_.on_lost = [this](const std::string&) { on_lost(); };
}

JanusBackend::~JanusBackend() {
    session_.on_connected = nullptr;
    session_.on_lost = nullptr;
}

HandleId JanusBackend::handle_of(ca::RoomId room, ca::UserId user) const {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return 0;
    const auto p = r->second.pubs.find(user);
    return p == r->second.pubs.end() ? 0 : p->second.handle;
}

HandleId JanusBackend::subscription_of(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) const {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return 0;
    const auto s = r->second.subs.find({subscriber, publisher});
    return s == r->second.subs.end() ? 0 : s->second.handle;
}

JanusBackend::Subscription* JanusBackend::find_sub(ca::RoomId room, Link link, std::uint64_t serial) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return nullptr;
    const auto s = it->second.subs.find(link);
    return s != it->second.subs.end() && s->second.serial == serial ? &s->second : nullptr;
}

JanusBackend::Publisher* JanusBackend::find_pub(ca::RoomId room, ca::UserId user, std::uint64_t serial) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return nullptr;
    const auto p = it->second.pubs.find(user);
    return p != it->second.pubs.end() && p->second.serial == serial ? &p->second : nullptr;
}

// --- publish --------------------------------------------------------------------

void JanusBackend::publish(ca::RoomId room, ca::UserId user, const std::string& offer, MediaDone done) {
    auto [it, fresh] = rooms_.try_emplace(room);
    if (fresh) it->second.serial = next_serial_++;
    if (it->second.pubs.count(user))
        return done(unexpected(MediaError{ErrorCode::bad_request, "a publish of this stream is already under way"}));
    const std::uint64_t serial = next_serial_++;
    it->second.pubs[user].serial = serial;
    StepDone finish = [this, room, user, serial, done](Step step) {
        Publisher* p = find_pub(room, user, serial);
        if (!step) {
            if (p) {
                drop_publisher(*p);
                rooms_[room].pubs.erase(user);
            }
            return done(unexpected(step.error()));
        }
        if (!p) return done(unexpected(gone()));
        p->ready = true;
        done(std::optional<std::string>(step->get<std::string>()));
    };
    with_room(room, [this, room, user, serial, offer, finish](Step ok) {
        if (!ok) return finish(std::move(ok));
        if (!find_pub(room, user, serial)) return finish(unexpected(gone()));
        join_and_offer(room, user, serial, offer, finish);
    });
}

void JanusBackend::with_room(ca::RoomId room, StepDone cont) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return cont(unexpected(gone()));
    Room& r = it->second;
    if (r.created) return cont(json());
    r.waiting.push_back(std::move(cont));
    if (r.creating) return;
    r.creating = true;
    const std::uint64_t serial = r.serial;
    const std::uint64_t jroom = janus_room(room);
    orphans_.erase(jroom);  // in use again
    // Room management needs a handle; a short-lived one does it.
    session_.attach(kPlugin, [this, room, serial, jroom](Expected<HandleId, Error> handle) {
        auto settle = [this, room, serial](Step outcome) {
            const auto it2 = rooms_.find(room);
            if (it2 == rooms_.end() || it2->second.serial != serial) return;
            it2->second.creating = false;
            it2->second.created = outcome.has_value();
            for (auto& w : std::exchange(it2->second.waiting, {})) w(outcome);
        };
        if (!handle) return settle(unexpected(to_media_error(handle.error())));
        const json body{{"request", "create"}, {"room", jroom}, {"description", "COMPEIT room " + std::to_string(room)},
                        {"publishers", config_.max_publishers}, {"is_private", true}};
        session_.message(*handle, body, nullptr, [this, h = *handle, jroom, settle](Result res) {
            session_.detach(h);
            if (!res && res.error().disconnected) orphans_.insert(jroom);  // Janus may have made it
            if (!res && res.error().code != kRoomExists) return settle(unexpected(to_media_error(res.error())));
            settle(json());
        });
    });
}

// join (ptype publisher) -> configure with the offer -> Janus' answer.
void JanusBackend::join_and_offer(ca::RoomId room, ca::UserId user, std::uint64_t serial, const std::string& offer,
                                  StepDone done) {
    session_.attach(kPlugin, [=, this](Expected<HandleId, Error> handle) {
        if (!handle) return done(unexpected(to_media_error(handle.error())));
        Publisher* p = find_pub(room, user, serial);
        if (!p) {
            session_.detach(*handle);
            return done(unexpected(gone()));
        }
        p->handle = *handle;
        session_.listen(*handle, [this, room, user, serial](const json& msg) { on_handle_event(room, user, serial, msg); });
        const json join{{"request", "join"}, {"ptype", "publisher"}, {"room", janus_room(room)},
                        {"display", "user " + std::to_string(user)}};
        session_.message(*handle, join, nullptr, [=, this](Result joined) {
            if (!joined) return done(unexpected(to_media_error(joined.error())));
            Publisher* p2 = find_pub(room, user, serial);
            if (!p2) return done(unexpected(gone()));
            const json* data = plugin_data(*joined);
            const auto id = data ? data->find("id") : json::const_iterator();
            if (!data || id == data->end() || !id->is_number_unsigned())
                return done(unexpected(MediaError{ErrorCode::unavailable, "Janus gave no publisher id"}));
            p2->feed = id->get<std::uint64_t>();
            const json jsep{{"type", "offer"}, {"sdp", offer}};
            session_.message(p2->handle, json{{"request", "configure"}, {"audio", true}, {"video", true}}, jsep,
                             [=](Result configured) {
                                 if (!configured) return done(unexpected(to_media_error(configured.error())));
                                 auto answer = jsep_sdp(*configured, "answer");
                                 if (!answer)
                                     return done(unexpected(MediaError{ErrorCode::unavailable, "Janus gave no SDP answer"}));
                                 done(json(std::move(*answer)));
                             });
            p2->offered = true;  // Janus queues candidates that beat the offer to it
            for (auto& c : std::exchange(p2->candidates, {})) session_.trickle(p2->handle, std::move(c));
        });
    });
}

void JanusBackend::on_handle_event(ca::RoomId room, ca::UserId user, std::uint64_t serial, const json& msg) {
    Publisher* p = find_pub(room, user, serial);
    if (!p) return;
    // The browser's connection is up: Janus has the feed, subscribers may join it.
    if (msg.value("janus", "") == "webrtcup") {
        p->up = true;
        for (auto& w : std::exchange(p->waiting_up, {})) w(true);
        return;
    }
    // The browser's connection failed or closed: Janus unpublished the feed.
    if (msg.value("janus", "") == "hangup" && p->ready) {
        if (on_stream_lost) on_stream_lost(room, user);  // the agent unpublishes, which detaches the handle
        return;
    }
    // Janus puts its candidates in the answer; with full trickle it sends them too.
    auto candidate = from_janus_trickle(msg);
    if (candidate && on_candidate) on_candidate(user, user, std::move(*candidate));
}

// --- subscriptions, candidates, filters, recording ---------------------------

// attach -> join (ptype subscriber, the publisher's feed) -> Janus' offer.
void JanusBackend::subscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher, const std::string& offer,
                             MediaDone done) {
    if (!offer.empty())
        return done(unexpected(MediaError{ErrorCode::bad_request,
                                          "Janus makes the offer to subscribers (\"Only publishers send offers\")"}));
    const auto r = rooms_.find(room);
    Publisher* pub = nullptr;
    if (r != rooms_.end())
        if (const auto p = r->second.pubs.find(publisher); p != r->second.pubs.end() && p->second.ready) pub = &p->second;
    if (!pub) return done(unexpected(MediaError{ErrorCode::unavailable, "that stream is not on the media server"}));
    const Link link{subscriber, publisher};
    if (const auto old = r->second.subs.find(link); old != r->second.subs.end()) {  // a new subscription replaces it
        drop_subscription(old->second);
        r->second.subs.erase(old);
    }
    const std::uint64_t serial = next_serial_++;
    r->second.subs[link].serial = serial;
    const std::uint64_t feed = pub->feed;
    auto fail = [this, room, link, serial, done](MediaError e) {
        if (Subscription* s = find_sub(room, link, serial)) {
            drop_subscription(*s);
            rooms_[room].subs.erase(link);
        }
        done(unexpected(std::move(e)));
    };
    auto join = [=, this] {
        session_.attach(kPlugin, [=, this](Expected<HandleId, Error> handle) {
            if (!handle) return fail(to_media_error(handle.error()));
            Subscription* s = find_sub(room, link, serial);
            if (!s) {
                session_.detach(*handle);
                return done(unexpected(gone()));
            }
            s->handle = *handle;
            session_.listen(*handle, [this, room, link, serial](const json& msg) { on_subscription_event(room, link, serial, msg); });
            const json body{{"request", "join"}, {"ptype", "subscriber"}, {"room", janus_room(room)},
                            {"streams", json::array({json{{"feed", feed}}})}};
            session_.message(*handle, body, nullptr, [=, this](Result joined) {
                if (!joined) return fail(to_media_error(joined.error()));
                if (!find_sub(room, link, serial)) return done(unexpected(gone()));
                auto sdp = jsep_sdp(*joined, "offer");
                if (!sdp) return fail(MediaError{ErrorCode::unavailable, "Janus gave no SDP offer"});
                done(std::optional<std::string>(std::move(*sdp)));
            });
        });
    };
    // Janus knows a feed only once the publisher's browser has connected ("No such feed" before).
    if (pub->up) return join();
    pub->waiting_up.push_back([=, this](bool up) {
        if (!find_sub(room, link, serial)) return done(unexpected(gone()));
        if (!up) return fail(gone());
        join();
    });
}

// "start" with the browser's answer.
void JanusBackend::answer(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher, const std::string& sdp,
                          MediaDone done) {
    const auto r = rooms_.find(room);
    const Link link{subscriber, publisher};
    Subscription* found = nullptr;
    if (r != rooms_.end())
        if (const auto it = r->second.subs.find(link); it != r->second.subs.end() && it->second.handle != 0)
            found = &it->second;
    if (!found)
        return done(unexpected(MediaError{ErrorCode::bad_request, "no offer from the media server is waiting for that answer"}));
    Subscription& s = *found;
    if (s.answered) return done(unexpected(MediaError{ErrorCode::bad_request, "that offer was answered already"}));
    const std::uint64_t serial = s.serial;
    session_.message(s.handle, json{{"request", "start"}}, json{{"type", "answer"}, {"sdp", sdp}},
                     [this, room, link, serial, done](Result started) {
                         Subscription* sub = find_sub(room, link, serial);
                         if (!started) {
                             if (sub) {
                                 drop_subscription(*sub);
                                 rooms_[room].subs.erase(link);
                             }
                             return done(unexpected(to_media_error(started.error())));
                         }
                         if (!sub) return done(unexpected(gone()));
                         done(std::optional<std::string>());
                     });
    s.answered = true;  // Janus has the answer before any candidate sent after it
    for (auto& c : std::exchange(s.candidates, {})) session_.trickle(s.handle, std::move(c));
}

void JanusBackend::on_subscription_event(ca::RoomId room, Link link, std::uint64_t serial, const json& msg) {
    auto candidate = from_janus_trickle(msg);
    if (candidate && on_candidate && find_sub(room, link, serial))
        on_candidate(link.first, link.second, std::move(*candidate));
}

void JanusBackend::add_candidate(ca::RoomId room, ca::UserId user, ca::UserId stream_owner, const ca::json& candidate) {
    auto janus_candidate = to_janus_candidate(candidate);
    const auto r = rooms_.find(room);
    if (!janus_candidate || r == rooms_.end()) return;
    // The connection it belongs to: our published stream, or a subscription.
    HandleId handle = 0;
    bool ready = false;
    std::vector<json>* queue = nullptr;
    if (user == stream_owner) {
        const auto p = r->second.pubs.find(user);
        if (p == r->second.pubs.end()) return;
        handle = p->second.handle;
        ready = p->second.offered;
        queue = &p->second.candidates;
    } else {
        const auto s = r->second.subs.find({user, stream_owner});
        if (s == r->second.subs.end()) return;
        handle = s->second.handle;
        ready = s->second.answered;
        queue = &s->second.candidates;
    }
    if (!ready) {
        if (queue->size() < kMaxQueuedCandidates) queue->push_back(std::move(*janus_candidate));
        return;
    }
    session_.trickle(handle, std::move(*janus_candidate));
}

void JanusBackend::set_filter(ca::RoomId, ca::UserId, const std::string&, MediaDone done) {
    done(unexpected(MediaError{ErrorCode::not_supported, "the Janus VideoRoom has no filters"}));
}

void JanusBackend::record(ca::RoomId room, ca::UserId user, bool start, MediaDone done) {
    const auto r = rooms_.find(room);
    Publisher* pub = nullptr;
    if (r != rooms_.end())
        if (const auto p = r->second.pubs.find(user); p != r->second.pubs.end() && p->second.ready) pub = &p->second;
    if (!pub) return done(unexpected(MediaError{ErrorCode::unavailable, "that stream is not on the media server"}));
    if (pub->busy) return done(unexpected(MediaError{ErrorCode::bad_request, "a recording change is under way"}));
    pub->busy = true;
    json body{{"request", "configure"}, {"record", start}};
    if (start)
        body["filename"] = config_.record_dir + "/compeit-room" + std::to_string(room) + "-user" + std::to_string(user) +
                           "-" + std::to_string(config_.wall_ms());
    const std::uint64_t serial = pub->serial;
    session_.message(pub->handle, std::move(body), nullptr, [this, room, user, serial, done](Result res) {
        if (Publisher* p = find_pub(room, user, serial)) p->busy = false;
        if (!res) return done(unexpected(to_media_error(res.error())));
        done(std::optional<std::string>());
    });
}

// --- releasing --------------------------------------------------------------------

void JanusBackend::drop_publisher(Publisher& p) {
    if (p.handle != 0) session_.detach(std::exchange(p.handle, 0));  // Janus unpublishes and leaves
    p.offered = p.ready = p.up = false;
    for (auto& w : std::exchange(p.waiting_up, {})) w(false);
}

void JanusBackend::drop_subscription(Subscription& s) {
    if (s.handle != 0) session_.detach(std::exchange(s.handle, 0));  // Janus hangs up
    s.answered = false;
}

template <class Pred>
void JanusBackend::drop_subscriptions(Room& r, Pred which) {
    for (auto it = r.subs.begin(); it != r.subs.end();) {
        if (!which(it->first)) {
            ++it;
            continue;
        }
        drop_subscription(it->second);
        it = r.subs.erase(it);
    }
}

void JanusBackend::unpublish(ca::RoomId room, ca::UserId user) {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    drop_subscriptions(r->second, [user](const Link& l) { return l.second == user; });
    const auto p = r->second.pubs.find(user);
    if (p == r->second.pubs.end()) return;
    drop_publisher(p->second);
    r->second.pubs.erase(p);
}

void JanusBackend::unsubscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    drop_subscriptions(r->second, [&](const Link& l) { return l == Link{subscriber, publisher}; });
}

void JanusBackend::release_room(ca::RoomId room) {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    drop_subscriptions(r->second, [](const Link&) { return true; });
    for (auto& [user, p] : r->second.pubs) drop_publisher(p);
    const bool made = r->second.created || r->second.creating;
    auto waiting = std::exchange(r->second.waiting, {});
    rooms_.erase(r);
    for (auto& w : waiting) w(unexpected(gone()));
    if (made) destroy_room(janus_room(room));
}

void JanusBackend::destroy_room(std::uint64_t jroom) {
    session_.attach(kPlugin, [this, jroom](Expected<HandleId, Error> handle) {
        if (!handle) {
            if (handle.error().disconnected) orphans_.insert(jroom);
            return;
        }
        session_.message(*handle, json{{"request", "destroy"}, {"room", jroom}}, nullptr,
                         [this, h = *handle, jroom](Result res) {
                             if (!res && res.error().disconnected) orphans_.insert(jroom);
                             else session_.detach(h);
                         });
    });
}

void JanusBackend::on_lost() {
    // The Janus session is gone and its handles with it; the VideoRooms stay in
    // Janus and are destroyed once it is back, unless used again meanwhile.
    std::vector<ca::RoomId> lost;
    std::vector<std::function<void(bool)>> waiting;  // subscriptions waiting for a publisher's connection
    for (auto& [room, r] : rooms_) {
        if (r.created || r.creating) orphans_.insert(janus_room(room));
        lost.push_back(room);
        for (auto& [user, p] : r.pubs) std::move(p.waiting_up.begin(), p.waiting_up.end(), std::back_inserter(waiting));
    }
    rooms_.clear();
    for (auto& w : waiting) w(false);
    for (const auto room : lost)
        if (on_room_lost) on_room_lost(room);
}

void JanusBackend::on_connected() {
    for (const auto jroom : std::exchange(orphans_, {})) destroy_room(jroom);
}

}  // namespace compeit::janus
