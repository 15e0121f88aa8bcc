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

using agents::MediaDone;
using agents::MediaError;
using ca::ErrorCode;

namespace {

MediaError gone() { return MediaError{ErrorCode::unavailable, "the stream went away meanwhile"}; }
MediaError not_publishing() { return MediaError{ErrorCode::bad_request, "not publishing on the media server"}; }
MediaError busy() { return MediaError{ErrorCode::bad_request, "another filter or recording change is under way"}; }

}  // namespace

void KurentoBackend::set_filter(ca::RoomId room, ca::UserId user, const std::string& filter, MediaDone done) {
    auto spec = filter_spec(filter);
    if (!spec) return done(unexpected(spec.error()));
    Publisher* p = ready_pub(room, user);
    if (!p) return done(unexpected(not_publishing()));
    if (p->busy) return done(unexpected(busy()));
    const std::uint64_t serial = p->ep.serial;
    if (!*spec) {  // remove the filter
        if (p->filter.empty()) return done(std::optional<std::string>());
        p->busy = true;
        return switch_filter(room, user, serial, p->filter, {}, std::move(done));
    }
    p->busy = true;
    session_.request("create", create_params((*spec)->type, rooms_[room].pipeline, (*spec)->params),
                     [this, room, user, serial, done](Result made) {
        Publisher* pub = find_pub(room, user, serial);
        if (!made || !made->is_string()) {
            if (pub) pub->busy = false;
            return done(unexpected(made ? MediaError{ErrorCode::unavailable, "media server gave no filter id"}
                                        : to_media_error(made.error())));
        }
        const std::string id = made->get<std::string>();
        if (!pub) {
            release(id);
            return done(unexpected(gone()));
        }
        session_.request("invoke", invoke_params(pub->ep.id, "connect", json{{"sink", id}}),
                         [this, room, user, serial, id, done](Result connected) {
            Publisher* q = find_pub(room, user, serial);
            if (!q || !connected) {
                release(id);
                if (q) q->busy = false;
                return done(unexpected(q ? to_media_error(connected.error()) : gone()));
            }
            switch_filter(room, user, serial, q->filter, id, done);
        });
    });
}

// Moves every subscriber (and the recorder) from the current source to the
// new filter, or back to the endpoint when `new_filter` is empty.
void KurentoBackend::switch_filter(ca::RoomId room, ca::UserId user, std::uint64_t serial, std::string old_filter,
                                   std::string new_filter, MediaDone done) {
    Publisher* p = find_pub(room, user, serial);
    const std::string source = new_filter.empty() ? p->ep.id : new_filter;
    std::vector<std::string> sinks;
    for (const auto& [subscriber, sub] : p->subs)
        if (!sub.id.empty()) sinks.push_back(sub.id);
    if (!p->recorder.empty()) sinks.push_back(p->recorder);
    auto alive = [this, room, user, serial](const std::string& sink) {
        const Publisher* q = find_pub(room, user, serial);
        if (!q) return false;
        if (q->recorder == sink) return true;
        return std::any_of(q->subs.begin(), q->subs.end(), [&](const auto& s) { return s.second.id == sink; });
    };
    connect_all(source, sinks, alive, [=, this](Expected<bool, RpcError> switched) {
        Publisher* q = find_pub(room, user, serial);
        if (!q) {
            release(new_filter);
            return done(unexpected(gone()));
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
        for (const auto& [subscriber, sub] : q->subs)
            if (!sub.id.empty() && std::find(sinks.begin(), sinks.end(), sub.id) == sinks.end())
                session_.request("invoke", invoke_params(source, "connect", json{{"sink", sub.id}}), nullptr);
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

void KurentoBackend::record(ca::RoomId room, ca::UserId user, bool start, MediaDone done) {
    Publisher* p = ready_pub(room, user);
    if (!p) return done(unexpected(not_publishing()));
    if (p->busy) return done(unexpected(busy()));
    const std::uint64_t serial = p->ep.serial;
    if (!start) {
        if (p->recorder.empty()) return done(unexpected(MediaError{ErrorCode::bad_request, "not recording"}));
        const std::string id = std::exchange(p->recorder, {});
        p->busy = true;
        session_.request("invoke", invoke_params(id, "stop"), [this, room, user, serial, id, done](Result stopped) {
            if (Publisher* q = find_pub(room, user, serial)) q->busy = false;
            release(id);
            if (!stopped) return done(unexpected(to_media_error(stopped.error())));
            done(std::optional<std::string>());
        });
        return;
    }
    if (!p->recorder.empty()) return done(unexpected(MediaError{ErrorCode::bad_request, "already recording"}));
    p->busy = true;
    const std::string uri = config_.record_uri + "/" + std::to_string(room) + "-" + std::to_string(user) + "-" +
                            std::to_string(config_.wall_ms()) + ".webm";
    const json params = create_params("RecorderEndpoint", rooms_[room].pipeline, json{{"uri", uri}, {"mediaProfile", "WEBM"}});
    session_.request("create", params, [this, room, user, serial, done](Result made) {
        Publisher* q = find_pub(room, user, serial);
        if (!made || !made->is_string()) {
            if (q) q->busy = false;
            return done(unexpected(made ? MediaError{ErrorCode::unavailable, "media server gave no recorder id"}
                                        : to_media_error(made.error())));
        }
        const std::string id = made->get<std::string>();
        // connect the current source, then record; a failure releases the recorder
        auto fail = [this, room, user, serial, id, done](MediaError e) {
            release(id);
            if (Publisher* r = find_pub(room, user, serial)) r->busy = false;
            done(unexpected(std::move(e)));
        };
        if (!q) return fail(gone());
        session_.request("invoke", invoke_params(source_of(*q), "connect", json{{"sink", id}}),
                         [this, room, user, serial, id, done, fail](Result connected) {
            if (!find_pub(room, user, serial)) return fail(gone());
            if (!connected) return fail(to_media_error(connected.error()));
            session_.request("invoke", invoke_params(id, "record"), [this, room, user, serial, id, done, fail](Result rec) {
                Publisher* r = find_pub(room, user, serial);
                if (!r) return fail(gone());
                if (!rec) return fail(to_media_error(rec.error()));
                r->busy = false;
                r->recorder = id;
                done(std::optional<std::string>());
            });
        });
    });
}

}  // namespace compeit::kms
