#include "compeit/janus/janus_backend.hpp"

#include <iterator>
#include <utility>

namespace compeit::janus {

using agents::media_gone;
using agents::MediaDone;
using agents::MediaError;
using agents::PubRef;
using agents::StreamKey;
using agents::SubKey;
using agents::SubRef;
using ca::ErrorCode;

namespace {

constexpr const char* kPlugin = "janus.plugin.videoroom";
constexpr std::size_t kMaxQueuedCandidates = 64;
constexpr int kRoomExists = 427;  // VideoRoom: "Room ... already exists"

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

HandleId JanusBackend::handle_of(ca::RoomId room, const StreamKey& stream) {
    const Pub* p = rooms_.pub(room, stream);
    return p ? p->handle : 0;
}

HandleId JanusBackend::subscription_of(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) {
    const Sub* s = rooms_.sub(room, SubKey{subscriber, stream});
    return s ? s->handle : 0;
}

JanusBackend::Pub* JanusBackend::ready_pub(ca::RoomId room, const StreamKey& stream) {
    Pub* p = rooms_.pub(room, stream);
    return p && p->ready ? p : nullptr;
}

// --- publish --------------------------------------------------------------------

void JanusBackend::publish(ca::RoomId room, const StreamKey& stream, const std::string& offer, MediaDone done) {
    if (rooms_.pub(room, stream))
        return done(unexpected(MediaError{ErrorCode::bad_request, "a publish of this stream is already under way"}));
    const PubRef ref = rooms_.add_pub(room, stream);
    StepDone finish = rooms_.then<Step>(
        ref, [done](Step step) { done(unexpected(step ? media_gone() : step.error())); },
        [this, ref, done](Pub& p, Step step) {
            if (!step) {
                rooms_.erase_pub(*this, ref.room, ref.key);
                return done(unexpected(step.error()));
            }
            p.ready = true;
            done(std::optional<std::string>(step->get<std::string>()));
        });
    with_room(room, [this, ref, offer, finish](Step ok) {
        if (!ok) return finish(std::move(ok));
        if (!rooms_.find(ref)) return finish(unexpected(media_gone()));
        join_and_offer(ref, offer, finish);
    });
}

void JanusBackend::with_room(ca::RoomId room, StepDone cont) {
    const std::uint64_t jroom = janus_room(room);
    auto then = [cont = std::move(cont)](agents::RoomObject::Made made) {
        if (!made) return cont(unexpected(made.error()));
        cont(json());
    };
    rooms_.with_object(room, std::move(then), [this, room, jroom](auto settle) {
        orphans_.erase(jroom);  // in use again
        // Room management needs a handle; a short-lived one does it.
        session_.attach(kPlugin, [this, room, jroom, settle](Expected<HandleId, Error> handle) {
            if (!handle) return void(settle(unexpected(to_media_error(handle.error()))));
            const json body{{"request", "create"}, {"room", jroom}, {"description", "COMPEIT room " + std::to_string(room)},
                            {"publishers", config_.max_publishers}, {"is_private", true}};
            session_.message(*handle, body, nullptr, [this, h = *handle, jroom, settle](Result res) {
                session_.detach(h);
                if (!res && res.error().disconnected) orphans_.insert(jroom);  // Janus may have made it
                if (!res && res.error().code != kRoomExists) return void(settle(unexpected(to_media_error(res.error()))));
                settle(std::to_string(jroom));
            });
        });
    });
}

// attach -> join (ptype publisher) -> configure with the offer -> Janus' answer.
void JanusBackend::join_and_offer(PubRef ref, const std::string& offer, StepDone done) {
    session_.attach(kPlugin, [this, ref, offer, done](Expected<HandleId, Error> handle) {
        if (!handle) return done(unexpected(to_media_error(handle.error())));
        Pub* p = rooms_.find(ref);
        if (!p) {
            session_.detach(*handle);
            return done(unexpected(media_gone()));
        }
        p->handle = *handle;
        session_.listen(*handle, [this, ref](const json& msg) { on_handle_event(ref, msg); });
        std::string display = "user " + std::to_string(ref.key.user);
        if (!ref.key.camera()) display += " " + ref.key.name;
        const json join{{"request", "join"}, {"ptype", "publisher"}, {"room", janus_room(ref.room)}, {"display", display}};
        session_.message(*handle, join, nullptr, rooms_.then<Result>(
            ref, [done](Result) { done(unexpected(media_gone())); },
            [this, ref, offer, done](Pub& pub, Result joined) {
                if (!joined) return done(unexpected(to_media_error(joined.error())));
                const json* data = plugin_data(*joined);
                const auto id = data ? data->find("id") : json::const_iterator();
                if (!data || id == data->end() || !id->is_number_unsigned())
                    return done(unexpected(MediaError{ErrorCode::unavailable, "Janus gave no publisher id"}));
                pub.feed = id->get<std::uint64_t>();
                configure(ref, offer, done);
            }));
    });
}

void JanusBackend::configure(PubRef ref, const std::string& offer, StepDone done) {
    Pub& p = *rooms_.find(ref);
    const json jsep{{"type", "offer"}, {"sdp", offer}};
    session_.message(p.handle, json{{"request", "configure"}, {"audio", true}, {"video", true}}, jsep,
                     [done](Result configured) {
                         if (!configured) return done(unexpected(to_media_error(configured.error())));
                         auto answer = jsep_sdp(*configured, "answer");
                         if (!answer) return done(unexpected(MediaError{ErrorCode::unavailable, "Janus gave no SDP answer"}));
                         done(json(std::move(*answer)));
                     });
    p.offered = true;  // Janus queues candidates that beat the offer to it
    for (auto& c : std::exchange(p.candidates, {})) session_.trickle(p.handle, std::move(c));
}

void JanusBackend::on_handle_event(const PubRef& ref, const json& msg) {
    Pub* p = rooms_.find(ref);
    if (!p) return;
    // The browser's connection is up: Janus has the feed, subscribers may join it.
    if (msg.value("janus", "") == "webrtcup") {
        p->up = true;
        for (auto& w : std::exchange(p->waiting_up, {})) w(true);
        return;
    }
    // The browser's connection failed or closed: Janus unpublished the feed.
    if (msg.value("janus", "") == "hangup" && p->ready) return stream_lost(ref.room, ref.key);  // the agent unpublishes
    // Janus puts its candidates in the answer; with full trickle it sends them too.
    if (auto candidate = from_janus_trickle(msg)) candidate_found(ref.key.user, ref.key, std::move(*candidate));
}

// --- subscriptions, candidates, filters, recording ---------------------------

// [wait for the publisher's connection] -> attach -> join (ptype subscriber,
// the publisher's feed) -> Janus' offer.
void JanusBackend::subscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream, const std::string& offer,
                             MediaDone done) {
    if (!offer.empty())
        return done(unexpected(MediaError{ErrorCode::bad_request,
                                          "Janus makes the offer to subscribers (\"Only publishers send offers\")"}));
    Pub* pub = ready_pub(room, stream);
    if (!pub) return done(unexpected(MediaError{ErrorCode::unavailable, "that stream is not on the media server"}));
    const SubKey key{subscriber, stream};
    rooms_.erase_sub(*this, room, key);  // a new subscription replaces it
    const SubRef ref = rooms_.add_sub(room, key);
    const std::uint64_t feed = pub->feed;
    // Janus knows a feed only once the publisher's browser has connected ("No such feed" before).
    if (pub->up) return join_feed(ref, feed, std::move(done));
    pub->waiting_up.push_back([this, ref, feed, done](bool up) {
        if (!rooms_.find(ref)) return done(unexpected(media_gone()));
        if (!up) {
            rooms_.erase_sub(*this, ref.room, ref.key);
            return done(unexpected(media_gone()));
        }
        join_feed(ref, feed, done);
    });
}

void JanusBackend::join_feed(SubRef ref, std::uint64_t feed, MediaDone done) {
    auto fail = [this, ref, done](MediaError e) {
        if (rooms_.find(ref)) rooms_.erase_sub(*this, ref.room, ref.key);
        done(unexpected(std::move(e)));
    };
    session_.attach(kPlugin, [this, ref, feed, done, fail](Expected<HandleId, Error> handle) {
        if (!handle) return fail(to_media_error(handle.error()));
        Sub* s = rooms_.find(ref);
        if (!s) {
            session_.detach(*handle);
            return done(unexpected(media_gone()));
        }
        s->handle = *handle;
        session_.listen(*handle, [this, ref](const json& msg) { on_subscription_event(ref, msg); });
        const json body{{"request", "join"}, {"ptype", "subscriber"}, {"room", janus_room(ref.room)},
                        {"streams", json::array({json{{"feed", feed}}})}};
        session_.message(*handle, body, nullptr, rooms_.then<Result>(
            ref, [done](Result) { done(unexpected(media_gone())); },
            [done, fail](Sub&, Result joined) {
                if (!joined) return fail(to_media_error(joined.error()));
                auto sdp = jsep_sdp(*joined, "offer");
                if (!sdp) return fail(MediaError{ErrorCode::unavailable, "Janus gave no SDP offer"});
                done(std::optional<std::string>(std::move(*sdp)));
            }));
    });
}

// "start" with the browser's answer.
void JanusBackend::answer(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream, const std::string& sdp,
                          MediaDone done) {
    Sub* s = rooms_.sub(room, SubKey{subscriber, stream});
    if (!s || s->handle == 0)
        return done(unexpected(MediaError{ErrorCode::bad_request, "no offer from the media server is waiting for that answer"}));
    if (s->answered) return done(unexpected(MediaError{ErrorCode::bad_request, "that offer was answered already"}));
    const SubRef ref{room, SubKey{subscriber, stream}, s->serial};
    session_.message(s->handle, json{{"request", "start"}}, json{{"type", "answer"}, {"sdp", sdp}},
                     rooms_.then<Result>(
                         ref,
                         [done](Result started) {
                             done(unexpected(started ? media_gone() : to_media_error(started.error())));
                         },
                         [this, ref, done](Sub&, Result started) {
                             if (!started) {
                                 rooms_.erase_sub(*this, ref.room, ref.key);
                                 return done(unexpected(to_media_error(started.error())));
                             }
                             done(std::optional<std::string>());
                         }));
    s->answered = true;  // Janus has the answer before any candidate sent after it
    for (auto& c : std::exchange(s->candidates, {})) session_.trickle(s->handle, std::move(c));
}

void JanusBackend::on_subscription_event(const SubRef& ref, const json& msg) {
    auto candidate = from_janus_trickle(msg);
    if (candidate && rooms_.find(ref)) candidate_found(ref.key.subscriber, ref.key.stream, std::move(*candidate));
}

void JanusBackend::add_candidate(ca::RoomId room, ca::UserId user, const StreamKey& stream, const ca::json& candidate) {
    auto janus_candidate = to_janus_candidate(candidate);
    if (!janus_candidate) return;
    // The connection it belongs to: our published stream, or a subscription.
    HandleId handle = 0;
    bool ready = false;
    std::vector<json>* queue = nullptr;
    if (user == stream.user) {
        Pub* p = rooms_.pub(room, stream);
        if (!p) return;
        handle = p->handle;
        ready = p->offered;
        queue = &p->candidates;
    } else {
        Sub* s = rooms_.sub(room, SubKey{user, stream});
        if (!s) return;
        handle = s->handle;
        ready = s->answered;
        queue = &s->candidates;
    }
    if (!ready) {
        if (queue->size() < kMaxQueuedCandidates) queue->push_back(std::move(*janus_candidate));
        return;
    }
    session_.trickle(handle, std::move(*janus_candidate));
}

void JanusBackend::set_filter(ca::RoomId, const StreamKey&, const std::string&, MediaDone done) {
    done(unexpected(MediaError{ErrorCode::not_supported, "the Janus VideoRoom has no filters"}));
}

void JanusBackend::record(ca::RoomId room, const StreamKey& stream, bool start, MediaDone done) {
    Pub* pub = ready_pub(room, stream);
    if (!pub) return done(unexpected(MediaError{ErrorCode::unavailable, "that stream is not on the media server"}));
    if (pub->busy) return done(unexpected(MediaError{ErrorCode::bad_request, "a recording change is under way"}));
    pub->busy = true;
    json body{{"request", "configure"}, {"record", start}};
    if (start) {
        // The camera keeps the name it always had; another stream adds its name.
        std::string name = config_.record_dir + "/compeit-room" + std::to_string(room) + "-user" + std::to_string(stream.user);
        if (!stream.camera()) name += "-" + stream.name;
        body["filename"] = name + "-" + std::to_string(config_.wall_ms());
    }
    const PubRef ref{room, stream, pub->serial};
    session_.message(pub->handle, std::move(body), nullptr, [this, ref, done](Result res) {
        if (Pub* p = rooms_.find(ref)) p->busy = false;
        if (!res) return done(unexpected(to_media_error(res.error())));
        done(std::optional<std::string>());
    });
}

// --- releasing --------------------------------------------------------------------

void JanusBackend::release(Pub& p) {
    if (p.handle != 0) session_.detach(std::exchange(p.handle, 0));  // Janus unpublishes and leaves
    p.offered = p.ready = p.up = false;
    for (auto& w : std::exchange(p.waiting_up, {})) w(false);
}

void JanusBackend::release(Sub& s) {
    if (s.handle != 0) session_.detach(std::exchange(s.handle, 0));  // Janus hangs up
    s.answered = false;
}

void JanusBackend::unpublish(ca::RoomId room, const StreamKey& stream) { rooms_.erase_pub(*this, room, stream); }

void JanusBackend::unsubscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) {
    rooms_.erase_sub(*this, room, SubKey{subscriber, stream});
}

void JanusBackend::release_room(ca::RoomId room) {
    auto* r = rooms_.find(room);
    if (!r) return;
    rooms_.erase_subs_if(*this, *r, [](const SubKey&) { return true; });
    while (!r->pubs.empty()) rooms_.erase_pub(*this, room, r->pubs.begin()->first);
    const bool made = !r->object.id.empty() || r->object.creating;
    auto waiting = std::exchange(r->object.waiting, {});
    rooms_.erase(room);
    for (auto& w : waiting) w(unexpected(media_gone()));
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
    for (auto& [room, r] : rooms_.take_all()) {
        if (!r.object.id.empty() || r.object.creating) orphans_.insert(janus_room(room));
        lost.push_back(room);
        for (auto& [key, p] : r.pubs) std::move(p.waiting_up.begin(), p.waiting_up.end(), std::back_inserter(waiting));
    }
    for (auto& w : waiting) w(false);
    for (const auto room : lost) room_lost(room);
}

void JanusBackend::on_connected() {
    for (const auto jroom : std::exchange(orphans_, {})) destroy_room(jroom);
}

}  // namespace compeit::janus
