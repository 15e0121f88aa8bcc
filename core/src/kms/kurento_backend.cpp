#include "compeit/kms/kurento_backend.hpp"

#include <utility>
#include <vector>

#include "compeit/kms/wire.hpp"

namespace compeit::kms {

using agents::MediaDone;
using agents::MediaError;
using ca::ErrorCode;

namespace {

constexpr std::size_t kMaxQueuedCandidates = 64;

MediaError gone() { return MediaError{ErrorCode::unavailable, "the stream went away meanwhile"}; }
MediaError no_id(const char* what) { return MediaError{ErrorCode::unavailable, std::string("media server gave no ") + what}; }

}  // namespace

KurentoBackend::KurentoBackend(Session& session, BackendConfig config) : session_(session), config_(std::move(config)) {
    session_.on_connected = [this] { on_connected(); };
    session_.on_lost = [this](const std::string&) { on_lost(); };
}

KurentoBackend::~KurentoBackend() {
    session_.on_connected = nullptr;
    session_.on_lost = nullptr;
}

std::string KurentoBackend::pipeline_of(ca::RoomId room) const {
    const auto it = rooms_.find(room);
    return it == rooms_.end() ? std::string() : it->second.pipeline;
}

// --- lookups (every asynchronous step finds its objects again) -----------------

KurentoBackend::Room* KurentoBackend::find_room(ca::RoomId room, std::uint64_t serial) {
    const auto it = rooms_.find(room);
    return it != rooms_.end() && it->second.serial == serial ? &it->second : nullptr;
}

KurentoBackend::Publisher* KurentoBackend::find_pub(ca::RoomId room, ca::UserId user, std::uint64_t serial) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return nullptr;
    const auto p = it->second.pubs.find(user);
    return p != it->second.pubs.end() && p->second.ep.serial == serial ? &p->second : nullptr;
}

KurentoBackend::Publisher* KurentoBackend::ready_pub(ca::RoomId room, ca::UserId user) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return nullptr;
    const auto p = it->second.pubs.find(user);
    return p != it->second.pubs.end() && p->second.ep.ready ? &p->second : nullptr;
}

KurentoBackend::Endpoint* KurentoBackend::find_sub(ca::RoomId room, ca::UserId publisher, ca::UserId subscriber,
                                                   std::uint64_t serial) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return nullptr;
    const auto p = it->second.pubs.find(publisher);
    if (p == it->second.pubs.end()) return nullptr;
    const auto s = p->second.subs.find(subscriber);
    return s != p->second.subs.end() && s->second.serial == serial ? &s->second : nullptr;
}

// --- publish and subscribe ---------------------------------------------------------

void KurentoBackend::publish(ca::RoomId room, ca::UserId user, const std::string& offer, MediaDone done) {
    auto [it, fresh] = rooms_.try_emplace(room);
    if (fresh) it->second.serial = next_serial_++;
    if (it->second.pubs.count(user))
        return done(unexpected(MediaError{ErrorCode::bad_request, "a publish of this stream is already under way"}));
    const std::uint64_t serial = next_serial_++;
    it->second.pubs[user].ep.serial = serial;
    Locate locate = [this, room, user, serial]() -> Endpoint* {
        Publisher* p = find_pub(room, user, serial);
        return p ? &p->ep : nullptr;
    };
    AnswerDone finish = [this, room, user, serial, done](Answer answer) {
        if (!answer) {
            if (find_pub(room, user, serial)) rooms_[room].pubs.erase(user);
            maybe_reap(room);
            return done(unexpected(answer.error()));
        }
        done(std::optional<std::string>(std::move(*answer)));
    };
    with_pipeline(room, [this, user, offer, locate, finish](Answer pipeline) {
        if (!pipeline) return finish(std::move(pipeline));
        if (!locate()) return finish(unexpected(gone()));
        make_endpoint(*pipeline, locate, offer, nullptr, user, user, finish);
    });
}

void KurentoBackend::subscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher, const std::string& offer,
                               MediaDone done) {
    Publisher* p = ready_pub(room, publisher);
    if (!p)
        return done(unexpected(MediaError{ErrorCode::unavailable,
                                          "that stream is not on the media server (it was lost; publish it again)"}));
    if (const auto old = p->subs.find(subscriber); old != p->subs.end()) {  // a new offer replaces the connection
        drop_endpoint(old->second);
        p->subs.erase(old);
    }
    const std::uint64_t serial = next_serial_++;
    p->subs[subscriber].serial = serial;
    Locate locate = [this, room, publisher, subscriber, serial] { return find_sub(room, publisher, subscriber, serial); };
    auto source = [this, room, publisher]() -> std::string {
        const Publisher* pub = ready_pub(room, publisher);
        return pub ? source_of(*pub) : std::string();
    };
    AnswerDone finish = [this, room, publisher, subscriber, serial, done](Answer answer) {
        if (!answer) {
            if (find_sub(room, publisher, subscriber, serial)) rooms_[room].pubs[publisher].subs.erase(subscriber);
            return done(unexpected(answer.error()));
        }
        done(std::optional<std::string>(std::move(*answer)));
    };
    make_endpoint(rooms_[room].pipeline, locate, offer, source, subscriber, publisher, finish);
}

void KurentoBackend::with_pipeline(ca::RoomId room, AnswerDone cont) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return cont(unexpected(gone()));
    Room& r = it->second;
    if (!r.pipeline.empty()) return cont(r.pipeline);
    r.waiting.push_back(std::move(cont));
    if (r.creating) return;
    r.creating = true;
    const std::uint64_t serial = r.serial;
    session_.request("create", create_params("MediaPipeline", ""), [this, room, serial](Result res) {
        Room* rm = find_room(room, serial);
        if (!rm) {
            if (res && res->is_string()) release(res->get<std::string>());
            return;
        }
        rm->creating = false;
        auto waiting = std::exchange(rm->waiting, {});
        Answer outcome = unexpected(res ? no_id("pipeline id") : to_media_error(res.error()));
        if (res && res->is_string()) outcome = rm->pipeline = res->get<std::string>();
        for (auto& w : waiting) w(outcome);
        maybe_reap(room);
    });
}

// create WebRtcEndpoint -> subscribe IceCandidateFound -> processOffer ->
// [connect from the source] -> gatherCandidates; then the answer goes out.
void KurentoBackend::make_endpoint(const std::string& pipeline, Locate locate, const std::string& offer,
                                   std::function<std::string()> source, ca::UserId to, ca::UserId owner,
                                   AnswerDone done) {
    session_.request("create", create_params("WebRtcEndpoint", pipeline), [=, this](Result res) {
        if (!res) return done(unexpected(to_media_error(res.error())));
        if (!res->is_string()) return done(unexpected(no_id("endpoint id")));
        const std::string id = res->get<std::string>();
        Endpoint* ep = locate();
        if (!ep) {
            release(id);
            return done(unexpected(gone()));
        }
        ep->id = id;
        session_.listen(id, "IceCandidateFound", [this, locate, to, owner](const std::string&, const std::string&, const json& data) {
            Endpoint* e = locate();
            auto candidate = to_browser_candidate(data);
            if (!e || !candidate) return;
            if (!e->ready) return e->kms_candidates.push_back(std::move(*candidate));
            if (on_candidate) on_candidate(to, owner, std::move(*candidate));
        });
        const json sub{{"type", "IceCandidateFound"}, {"object", id}};
        session_.request("subscribe", sub, [=, this](Result subscribed) {
            if (!subscribed) return fail_endpoint(locate, subscribed.error(), done);
            if (!locate()) return done(unexpected(gone()));
            session_.request("invoke", invoke_params(id, "processOffer", json{{"offer", offer}}), [=, this](Result answer) {
                if (!answer) return fail_endpoint(locate, answer.error(), done);
                Endpoint* e = locate();
                if (!e) return done(unexpected(gone()));
                if (!answer->is_string()) return fail_endpoint(locate, RpcError{0, "no SDP answer", {}, false}, done);
                e->negotiated = true;
                for (auto& c : std::exchange(e->browser_candidates, {}))
                    session_.request("invoke", invoke_params(id, "addIceCandidate", json{{"candidate", std::move(c)}}), nullptr);
                const std::string sdp = answer->get<std::string>();
                if (!source) return finish_endpoint(locate, sdp, to, owner, done);
                const std::string from = source();
                if (from.empty()) return fail_endpoint(locate, RpcError{0, "the published stream went away meanwhile", {}, false}, done);
                session_.request("invoke", invoke_params(from, "connect", json{{"sink", id}}), [=, this](Result connected) {
                    if (!connected) return fail_endpoint(locate, connected.error(), done);
                    finish_endpoint(locate, sdp, to, owner, done);
                });
            });
        });
    });
}

void KurentoBackend::finish_endpoint(Locate locate, const std::string& answer, ca::UserId to, ca::UserId owner,
                                     AnswerDone done) {
    Endpoint* ep = locate();
    if (!ep) return done(unexpected(gone()));
    session_.request("invoke", invoke_params(ep->id, "gatherCandidates"), [=, this](Result gathered) {
        if (!gathered) return fail_endpoint(locate, gathered.error(), done);
        Endpoint* e = locate();
        if (!e) return done(unexpected(gone()));
        e->ready = true;
        auto queued = std::exchange(e->kms_candidates, {});
        done(answer);  // the answer reaches the browser before KMS's candidates
        for (auto& c : queued)
            if (locate() && on_candidate) on_candidate(to, owner, std::move(c));
    });
}

void KurentoBackend::fail_endpoint(const Locate& locate, const RpcError& e, const AnswerDone& done) {
    if (Endpoint* ep = locate()) drop_endpoint(*ep);
    done(unexpected(e.code == 0 && !e.disconnected ? MediaError{ErrorCode::unavailable, e.message} : to_media_error(e)));
}

void KurentoBackend::add_candidate(ca::RoomId room, ca::UserId user, ca::UserId stream_owner, const ca::json& candidate) {
    auto kms_candidate = to_kms_candidate(candidate);
    const auto r = rooms_.find(room);
    if (!kms_candidate || r == rooms_.end()) return;
    const auto p = r->second.pubs.find(stream_owner);
    if (p == r->second.pubs.end()) return;
    Endpoint* ep = &p->second.ep;
    if (user != stream_owner) {
        const auto s = p->second.subs.find(user);
        if (s == p->second.subs.end()) return;
        ep = &s->second;
    }
    if (!ep->negotiated) {
        if (ep->browser_candidates.size() < kMaxQueuedCandidates) ep->browser_candidates.push_back(std::move(*kms_candidate));
        return;
    }
    session_.request("invoke", invoke_params(ep->id, "addIceCandidate", json{{"candidate", std::move(*kms_candidate)}}),
                     nullptr);
}

// --- releasing ------------------------------------------------------------------------

void KurentoBackend::unpublish(ca::RoomId room, ca::UserId user) {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    const auto p = r->second.pubs.find(user);
    if (p == r->second.pubs.end()) return;
    drop_publisher(p->second);
    r->second.pubs.erase(p);
    maybe_reap(room);
}

void KurentoBackend::unsubscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) {
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    const auto p = r->second.pubs.find(publisher);
    if (p == r->second.pubs.end()) return;
    const auto s = p->second.subs.find(subscriber);
    if (s == p->second.subs.end()) return;
    drop_endpoint(s->second);
    p->second.subs.erase(s);
}

void KurentoBackend::release_room(ca::RoomId room) {
    // The agent has nothing left here; publishes still under way finish (or fail) on their own.
    const auto r = rooms_.find(room);
    if (r == rooms_.end()) return;
    for (auto p = r->second.pubs.begin(); p != r->second.pubs.end();) {
        if (!p->second.ep.ready) {
            ++p;
            continue;
        }
        drop_publisher(p->second);
        p = r->second.pubs.erase(p);
    }
    maybe_reap(room);
}

void KurentoBackend::drop_endpoint(Endpoint& ep) {
    if (!ep.id.empty()) release(std::exchange(ep.id, {}));
    ep.negotiated = ep.ready = false;
}

void KurentoBackend::drop_publisher(Publisher& p) {
    for (auto& [user, sub] : p.subs) drop_endpoint(sub);
    p.subs.clear();
    if (!p.recorder.empty()) {  // stop first so the file is finalized
        session_.request("invoke", invoke_params(p.recorder, "stop"), nullptr);
        release(std::exchange(p.recorder, {}));
    }
    if (!p.filter.empty()) release(std::exchange(p.filter, {}));
    drop_endpoint(p.ep);
}

void KurentoBackend::maybe_reap(ca::RoomId room) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    const Room& r = it->second;
    if (!r.pubs.empty() || !r.waiting.empty() || r.creating) return;
    const std::string pipeline = r.pipeline;
    rooms_.erase(it);
    release(pipeline);
}

void KurentoBackend::release(const std::string& id) {
    if (id.empty()) return;
    session_.unlisten(id);
    session_.request("release", json{{"object", id}}, [this, id](Result r) {
        if (!r && r.error().disconnected) orphans_.insert(id);  // released when KMS is back
    });
}

void KurentoBackend::on_lost() {
    // What KMS may still hold is released on reconnection; a pipeline takes its elements with it.
    std::vector<ca::RoomId> lost;
    for (auto& [room, r] : rooms_) {
        if (!r.pipeline.empty()) orphans_.insert(r.pipeline);
        lost.push_back(room);
    }
    rooms_.clear();
    for (const auto room : lost)
        if (on_room_lost) on_room_lost(room);  // the agent tells the rooms their streams are gone
}

void KurentoBackend::on_connected() {
    for (const auto& id : std::exchange(orphans_, {})) release(id);
}

}  // namespace compeit::kms
