// Stream manipulation on the media server (KU-6): a filter element between
// the publisher's endpoint and everything fed from it, and a RecorderEndpoint.
// One change at a time per stream (`busy`); a failed change puts back what
// was there and releases what it made.
#include <algorithm>
#include <string>
#include <utility>

#include "compeit/kms/kurento_backend.hpp"
#include "compeit/kms/wire.hpp"

namespace compeit::kms {

using agents::media_gone;
using agents::MediaDone;
using agents::MediaError;
using agents::PubRef;
using agents::StreamKey;
using ca::ErrorCode;

namespace {

MediaError not_publishing() { return MediaError{ErrorCode::bad_request, "not publishing on the media server"}; }
MediaError busy() { return MediaError{ErrorCode::bad_request, "another filter or recording change is under way"}; }

}  // namespace

void KurentoBackend::set_filter(ca::RoomId room, const StreamKey& stream, const std::string& filter, MediaDone done) {
    auto spec = filter_spec(filter);
    if (!spec) return done(unexpected(spec.error()));
    Pub* p = ready_pub(room, stream);
    if (!p) return done(unexpected(not_publishing()));
    if (p->busy) return done(unexpected(busy()));
    const PubRef ref{room, stream, p->serial};
    if (!*spec) {  // remove the filter
        if (p->filter.empty()) return done(std::optional<std::string>());
        p->busy = true;
        return switch_filter(ref, p->filter, {}, std::move(done));
    }
    p->busy = true;
    session_.request("create", create_params((*spec)->type, rooms_.find(room)->object.id, (*spec)->params),
                     [this, ref, done](Result made) {
        Pub* pub = rooms_.find(ref);
        if (!made || !made->is_string()) {
            if (pub) pub->busy = false;
            return done(unexpected(made ? MediaError{ErrorCode::unavailable, "media server gave no filter id"}
                                        : to_media_error(made.error())));
        }
        const std::string id = made->get<std::string>();
        if (!pub) {
            release(id);
            return done(unexpected(media_gone()));
        }
        session_.request("invoke", invoke_params(pub->ep.id, "connect", json{{"sink", id}}),
                         [this, ref, id, done](Result connected) {
            Pub* q = rooms_.find(ref);
            if (!q || !connected) {
                release(id);
                if (q) q->busy = false;
                return done(unexpected(q ? to_media_error(connected.error()) : media_gone()));
            }
            switch_filter(ref, q->filter, id, done);
        });
    });
}

std::vector<std::string> KurentoBackend::sinks_of(const PubRef& ref) {
    std::vector<std::string> sinks;
    const Pub* p = rooms_.find(ref);
    if (!p) return sinks;
    for (const auto& [key, sub] : rooms_.find(ref.room)->subs)
        if (key.stream == ref.key && !sub.ep.id.empty()) sinks.push_back(sub.ep.id);
    if (!p->recorder.empty()) sinks.push_back(p->recorder);
    return sinks;
}

// Moves every subscriber (and the recorder) from the current source to the
// new filter, or back to the endpoint when `new_filter` is empty.
void KurentoBackend::switch_filter(PubRef ref, std::string old_filter, std::string new_filter, MediaDone done) {
    const Pub* p = rooms_.find(ref);
    const std::string source = new_filter.empty() ? p->ep.id : new_filter;
    const std::vector<std::string> sinks = sinks_of(ref);
    auto alive = [this, ref](const std::string& sink) {
        const auto now = sinks_of(ref);
        return std::find(now.begin(), now.end(), sink) != now.end();
    };
    connect_all(source, sinks, alive, [=, this](Expected<bool, RpcError> switched) {
        Pub* q = rooms_.find(ref);
        if (!q) {
            release(new_filter);
            return done(unexpected(media_gone()));
        }
        q->busy = false;
        if (!switched) {  // back to the old source, and the new filter goes
            const std::string back = old_filter.empty() ? q->ep.id : old_filter;
            for (const auto& sink : sinks)
                session_.request("invoke", invoke_params(back, "connect", json{{"sink", sink}}), nullptr);
            release(new_filter);
            return done(unexpected(to_media_error(switched.error())));
        }
        // Subscriptions made meanwhile were fed from the old source.
        for (const auto& sink : sinks_of(ref))
            if (sink != q->recorder && std::find(sinks.begin(), sinks.end(), sink) == sinks.end())
                session_.request("invoke", invoke_params(source, "connect", json{{"sink", sink}}), nullptr);
        q->filter = new_filter;
        release(old_filter);
        done(std::optional<std::string>());
    });
}

void KurentoBackend::connect_all(std::string source, std::vector<std::string> sinks,
                                 std::function<bool(const std::string&)> alive,
                                 std::function<void(Expected<bool, RpcError>)> done) {
    if (sinks.empty()) return done(true);
    std::string sink = std::move(sinks.back());
    sinks.pop_back();
    const json params = invoke_params(source, "connect", json{{"sink", sink}});
    session_.request("invoke", params, [this, source, sinks, alive, done, sink](Result r) mutable {
        if (!r && (r.error().disconnected || alive(sink))) return done(unexpected(r.error()));
        connect_all(std::move(source), std::move(sinks), std::move(alive), std::move(done));
    });
}

void KurentoBackend::record(ca::RoomId room, const StreamKey& stream, bool start, MediaDone done) {
    Pub* p = ready_pub(room, stream);
    if (!p) return done(unexpected(not_publishing()));
    if (p->busy) return done(unexpected(busy()));
    const PubRef ref{room, stream, p->serial};
    if (!start) {
        if (p->recorder.empty()) return done(unexpected(MediaError{ErrorCode::bad_request, "not recording"}));
        const std::string id = std::exchange(p->recorder, {});
        p->busy = true;
        session_.request("invoke", invoke_params(id, "stop"), [this, ref, id, done](Result stopped) {
            if (Pub* q = rooms_.find(ref)) q->busy = false;
            release(id);
            if (!stopped) return done(unexpected(to_media_error(stopped.error())));
            done(std::optional<std::string>());
        });
        return;
    }
    if (!p->recorder.empty()) return done(unexpected(MediaError{ErrorCode::bad_request, "already recording"}));
    p->busy = true;
    // The camera keeps the name it always had; another stream adds its name.
    std::string uri = config_.record_uri + "/" + std::to_string(room) + "-" + std::to_string(stream.user) + "-";
    if (!stream.camera()) uri += stream.name + "-";
    uri += std::to_string(config_.wall_ms()) + ".webm";
    const json params =
        create_params("RecorderEndpoint", rooms_.find(room)->object.id, json{{"uri", uri}, {"mediaProfile", "WEBM"}});
    session_.request("create", params, [this, ref, done](Result made) {
        Pub* q = rooms_.find(ref);
        if (!made || !made->is_string()) {
            if (q) q->busy = false;
            return done(unexpected(made ? MediaError{ErrorCode::unavailable, "media server gave no recorder id"}
                                        : to_media_error(made.error())));
        }
        const std::string id = made->get<std::string>();
        // connect the current source, then record; a failure releases the recorder
        auto fail = [this, ref, id, done](MediaError e) {
            release(id);
            if (Pub* r = rooms_.find(ref)) r->busy = false;
            done(unexpected(std::move(e)));
        };
        if (!q) return fail(media_gone());
        session_.request("invoke", invoke_params(source_of(*q), "connect", json{{"sink", id}}),
                         [this, ref, id, done, fail](Result connected) {
            if (!rooms_.find(ref)) return fail(media_gone());
            if (!connected) return fail(to_media_error(connected.error()));
            session_.request("invoke", invoke_params(id, "record"), [this, ref, id, done, fail](Result rec) {
                Pub* r = rooms_.find(ref);
                if (!r) return fail(media_gone());
                if (!rec) return fail(to_media_error(rec.error()));
                r->busy = false;
                r->recorder = id;
                done(std::optional<std::string>());
            });
        });
    });
}

}  // namespace compeit::kms
