#include "compeit/kms/kurento_backend.hpp"

#include <utility>
#include <vector>

#include "compeit/kms/wire.hpp"

namespace compeit::kms {

using agents::media_gone;
using agents::MediaDone;
using agents::MediaError;
using agents::PubRef;
using agents::StreamKey;
using agents::SubKey;
using agents::SubRef;
using ca::ErrorCode;

namespace {

constexpr std::size_t kMaxQueuedCandidates = 64;

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
    const auto* r = rooms_.find(room);
    return r ? r->object.id : std::string();
}

// --- lookups (every asynchronous step finds its objects again) -----------------

KurentoBackend::Pub* KurentoBackend::ready_pub(ca::RoomId room, const StreamKey& stream) {
    Pub* p = rooms_.pub(room, stream);
    return p && p->ep.ready ? p : nullptr;
}

KurentoBackend::Locate KurentoBackend::locate(PubRef ref) {
    return [this, ref]() -> Endpoint* {
        Pub* p = rooms_.find(ref);
        return p ? &p->ep : nullptr;
    };
}

KurentoBackend::Locate KurentoBackend::locate(SubRef ref) {
    return [this, ref]() -> Endpoint* {
        Sub* s = rooms_.find(ref);
        return s ? &s->ep : nullptr;
    };
}

// --- publish and subscribe ---------------------------------------------------------

void KurentoBackend::publish(ca::RoomId room, const StreamKey& stream, const std::string& offer, MediaDone done) {
    if (rooms_.pub(room, stream))
        return done(unexpected(MediaError{ErrorCode::bad_request, "a publish of this stream is already under way"}));
    const PubRef ref = rooms_.add_pub(room, stream);
    auto job = std::make_shared<Job>();
    job->locate = locate(ref);
    job->offer = offer;
    job->to = stream.user;
    job->stream = stream;
    job->done = [this, ref, done](Answer answer) {
        if (!answer) {
            if (rooms_.find(ref)) rooms_.erase_pub(*this, ref.room, ref.key);
            maybe_reap(ref.room);
            return done(unexpected(answer.error()));
        }
        done(std::optional<std::string>(std::move(*answer)));
    };
    with_pipeline(room, [this, job](Answer pipeline) {
        if (!pipeline) return job->done(std::move(pipeline));
        if (!job->locate()) return job->done(unexpected(media_gone()));
        make_endpoint(*pipeline, job);
    });
}

void KurentoBackend::subscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream, const std::string& offer,
                               MediaDone done) {
    if (!ready_pub(room, stream))
        return done(unexpected(MediaError{ErrorCode::unavailable,
                                          "that stream is not on the media server (it was lost; publish it again)"}));
    const SubKey key{subscriber, stream};
    rooms_.erase_sub(*this, room, key);  // a new offer replaces the connection
    const SubRef ref = rooms_.add_sub(room, key);
    auto job = std::make_shared<Job>();
    job->locate = locate(ref);
    job->offer = offer;
    job->source = [this, room, stream]() -> std::string {
        const Pub* pub = ready_pub(room, stream);
        return pub ? source_of(*pub) : std::string();
    };
    job->to = subscriber;
    job->stream = stream;
    job->done = [this, ref, done](Answer answer) {
        if (!answer) {
            if (rooms_.find(ref)) rooms_.erase_sub(*this, ref.room, ref.key);
            return done(unexpected(answer.error()));
        }
        done(std::optional<std::string>(std::move(*answer)));
    };
    make_endpoint(rooms_.find(room)->object.id, job);
}

void KurentoBackend::with_pipeline(ca::RoomId room, AnswerDone cont) {
    rooms_.with_object(room, std::move(cont), [this, room](auto settle) {
        session_.request("create", create_params("MediaPipeline", ""), [this, room, settle](Result res) {
            agents::RoomObject::Made made = unexpected(res ? no_id("pipeline id") : to_media_error(res.error()));
            if (res && res->is_string()) made = res->get<std::string>();
            if (!settle(made) && made) release(*made);  // the room went meanwhile
            maybe_reap(room);
        });
    });
}

void KurentoBackend::make_endpoint(const std::string& pipeline, JobPtr job) {
    session_.request("create", create_params("WebRtcEndpoint", pipeline),
                     [this, job](Result made) { endpoint_made(job, std::move(made)); });
}

void KurentoBackend::endpoint_made(JobPtr job, Result made) {
    if (!made) return job->done(unexpected(to_media_error(made.error())));
    if (!made->is_string()) return job->done(unexpected(no_id("endpoint id")));
    job->id = made->get<std::string>();
    Endpoint* ep = job->locate();
    if (!ep) {
        release(job->id);
        return job->done(unexpected(media_gone()));
    }
    ep->id = job->id;
    session_.listen(job->id, "IceCandidateFound",
                    [this, locate = job->locate, to = job->to, stream = job->stream](
                        const std::string&, const std::string&, const json& data) { on_kms_candidate(locate, to, stream, data); });
    session_.request("subscribe", json{{"type", "IceCandidateFound"}, {"object", job->id}}, [this, job](Result subscribed) {
        if (!subscribed) return fail_endpoint(*job, subscribed.error());
        if (!job->locate()) return job->done(unexpected(media_gone()));
        offer_endpoint(job);
    });
}

void KurentoBackend::on_kms_candidate(const Locate& locate, ca::UserId to, const StreamKey& stream, const json& data) {
    Endpoint* e = locate();
    auto candidate = to_browser_candidate(data);
    if (!e || !candidate) return;
    if (!e->ready) {
        if (e->kms_candidates.size() < kMaxQueuedCandidates) e->kms_candidates.push_back(std::move(*candidate));
        return;
    }
    candidate_found(to, stream, std::move(*candidate));
}

void KurentoBackend::offer_endpoint(JobPtr job) {
    session_.request("invoke", invoke_params(job->id, "processOffer", json{{"offer", job->offer}}),
                     [this, job](Result answer) { endpoint_offered(job, std::move(answer)); });
}

void KurentoBackend::endpoint_offered(JobPtr job, Result answer) {
    if (!answer) return fail_endpoint(*job, answer.error());
    Endpoint* e = job->locate();
    if (!e) return job->done(unexpected(media_gone()));
    if (!answer->is_string()) return fail_endpoint(*job, RpcError{0, "no SDP answer", {}, false});
    e->negotiated = true;
    for (auto& c : std::exchange(e->browser_candidates, {}))
        session_.request("invoke", invoke_params(job->id, "addIceCandidate", json{{"candidate", std::move(c)}}), nullptr);
    job->answer = answer->get<std::string>();
    if (!job->source) return finish_endpoint(job);
    const std::string from = job->source();
    if (from.empty()) return fail_endpoint(*job, RpcError{0, "the published stream went away meanwhile", {}, false});
    session_.request("invoke", invoke_params(from, "connect", json{{"sink", job->id}}), [this, job](Result connected) {
        if (!connected) return fail_endpoint(*job, connected.error());
        finish_endpoint(job);
    });
}

void KurentoBackend::finish_endpoint(JobPtr job) {
    if (!job->locate()) return job->done(unexpected(media_gone()));
    session_.request("invoke", invoke_params(job->id, "gatherCandidates"), [this, job](Result gathered) {
        if (!gathered) return fail_endpoint(*job, gathered.error());
        Endpoint* e = job->locate();
        if (!e) return job->done(unexpected(media_gone()));
        e->ready = true;
        auto queued = std::exchange(e->kms_candidates, {});
        job->done(job->answer);  // the answer reaches the browser before KMS's candidates
        for (auto& c : queued)
            if (job->locate()) candidate_found(job->to, job->stream, std::move(c));
    });
}

void KurentoBackend::fail_endpoint(const Job& job, const RpcError& e) {
    if (Endpoint* ep = job.locate()) drop_endpoint(*ep);
    job.done(unexpected(e.code == 0 && !e.disconnected ? MediaError{ErrorCode::unavailable, e.message} : to_media_error(e)));
}

void KurentoBackend::add_candidate(ca::RoomId room, ca::UserId user, const StreamKey& stream, const ca::json& candidate) {
    auto kms_candidate = to_kms_candidate(candidate);
    if (!kms_candidate) return;
    Endpoint* ep = nullptr;
    if (user == stream.user) {
        if (Pub* p = rooms_.pub(room, stream)) ep = &p->ep;
    } else if (Sub* s = rooms_.sub(room, SubKey{user, stream})) {
        ep = &s->ep;
    }
    if (!ep) return;
    if (!ep->negotiated) {
        if (ep->browser_candidates.size() < kMaxQueuedCandidates) ep->browser_candidates.push_back(std::move(*kms_candidate));
        return;
    }
    session_.request("invoke", invoke_params(ep->id, "addIceCandidate", json{{"candidate", std::move(*kms_candidate)}}),
                     nullptr);
}

// --- releasing ------------------------------------------------------------------------

void KurentoBackend::unpublish(ca::RoomId room, const StreamKey& stream) {
    rooms_.erase_pub(*this, room, stream);
    maybe_reap(room);
}

void KurentoBackend::unsubscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) {
    rooms_.erase_sub(*this, room, SubKey{subscriber, stream});
}

void KurentoBackend::release_room(ca::RoomId room) {
    // The agent has nothing left here; publishes still under way finish (or fail) on their own.
    auto* r = rooms_.find(room);
    if (!r) return;
    std::vector<StreamKey> ready;
    for (const auto& [key, p] : r->pubs)
        if (p.ep.ready) ready.push_back(key);
    for (const auto& key : ready) rooms_.erase_pub(*this, room, key);
    maybe_reap(room);
}

void KurentoBackend::release_leftover(ca::RoomId room, std::string_view pipeline) {
    // Recorded by a dead owner (outside input): an id of reasonable size, and
    // never this process's own pipeline of the room (both nodes may share a KMS).
    if (pipeline.empty() || pipeline.size() > 256 || pipeline == pipeline_of(room)) return;
    release(std::string(pipeline));
}

void KurentoBackend::drop_endpoint(Endpoint& ep) {
    if (!ep.id.empty()) release(std::exchange(ep.id, {}));
    ep.negotiated = ep.ready = false;
}

void KurentoBackend::release(Pub& p) {
    if (!p.recorder.empty()) {  // stop first so the file is finalized
        session_.request("invoke", invoke_params(p.recorder, "stop"), nullptr);
        release(std::exchange(p.recorder, {}));
    }
    if (!p.filter.empty()) release(std::exchange(p.filter, {}));
    drop_endpoint(p.ep);
}

void KurentoBackend::maybe_reap(ca::RoomId room) {
    const auto* r = rooms_.find(room);
    if (!r || !r->pubs.empty() || !r->subs.empty() || !r->object.waiting.empty() || r->object.creating) return;
    const std::string pipeline = r->object.id;
    rooms_.erase(room);
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
    for (auto& [room, r] : rooms_.take_all()) {
        if (!r.object.id.empty()) orphans_.insert(r.object.id);
        lost.push_back(room);
    }
    for (const auto room : lost) room_lost(room);  // the agent tells the rooms their streams are gone
}

void KurentoBackend::on_connected() {
    for (const auto& id : std::exchange(orphans_, {})) release(id);
}

}  // namespace compeit::kms
