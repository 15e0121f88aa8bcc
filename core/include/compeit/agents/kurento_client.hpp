// The Kurento Agent's client side: the WebRTC signalling state machine. It
// decides which peer connections exist, who offers, and when; queues remote
// candidates until a connection has its remote description; and cleans up
// when streams, users or rooms go. The host (JavaScript) only performs the
// RTCPeerConnection calls it is asked for, through Client events:
//
//   rtc {op:"create", pc, kind:"send"|"recv", offers, peer, stream, iceServers}
//                                      offers: whether this end will make the
//                                      offer (a receiving end that offers adds
//                                      recvonly transceivers first); stream:
//                                      the stream it carries (a send end: which
//                                      of our local streams to add)
//   rtc {op:"offer", pc}               createOffer + setLocalDescription, report "offer"
//   rtc {op:"answer", pc, sdp}         setRemoteDescription(offer), report "remote_set",
//                                      createAnswer + setLocalDescription, report "answer"
//   rtc {op:"remote_answer", pc, sdp}  setRemoteDescription(answer), report "remote_set"
//   rtc {op:"candidate", pc, candidate} addIceCandidate
//   rtc {op:"close", pc}
//
// and tells the application: media_config {mode, iceServers, offerer}, streams
// {streams:[{user,stream?,audio,video,filter,recording}]}, published {stream},
// unpublished {stream} (the server dropped that stream of ours),
// receive_failed {user, stream} (that stream could not be received, retries
// spent), media_error {action, code, message, stream}.
//
// A user may publish several streams, each named (KU stream names: "camera"
// unless named, "screen" for a shared screen). Connection keys: "sub:<publisher>"
// receives a stream; "pub:<subscriber>" sends ours to one subscriber (mesh);
// "pub" sends ours to the media server (sfu); a stream other than the camera
// adds "/<name>" ("sub:7/screen", "pub:9/screen", "pub/screen"), so the
// camera's keys are those of clients that know one stream. The subscriber
// offers, except where the media server does (config offerer "server",
// Janus): then "subscribe {user}" brings the server's offer and we answer.
// Every direction has its own connection, so offers never collide (no
// glare). Mute and unmute switch tracks off in the browser and announce the
// flags: no renegotiation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compeit/agents/media_backend.hpp"
#include "compeit/ca/client.hpp"

namespace compeit::agents {

class KurentoClient final : public ca::ClientAgent {
public:
    static constexpr const char* kType = "kurento";

    explicit KurentoClient(ca::Client& client);

    // Publishes one local stream (the host has it ready) with these flags;
    // `stream` names it (a KU stream name; invalid: media_error bad_request).
    void publish(bool audio, bool video, std::string_view stream = kCameraStream);
    void unpublish(std::string_view stream = kCameraStream);
    void update(bool audio, bool video, std::string_view stream = kCameraStream);
    // sfu: record our published stream on the media server, or stop; a filter on it.
    void record(bool start, std::string_view stream = kCameraStream);
    void set_filter(std::string_view filter, std::string_view stream = kCameraStream);
    // What the host did: op is offer, answer, candidate, remote_set or failed.
    void report(std::string_view op, const std::string& pc, std::string_view payload_json);

    bool publishing(std::string_view stream = kCameraStream) const { return publications_.count(std::string(stream)) > 0; }
    std::vector<std::string> connections() const;

    void on_server_message(std::string_view data) override;
    void on_room_message(ca::UserId from, std::string_view data) override;
    void on_membership(std::string_view event, std::string_view payload) override;

private:
    enum class PublishState { offering, requested, published };
    struct Publication {
        PublishState state = PublishState::offering;
        bool audio = true, video = true;
    };
    struct Pc {
        ca::UserId peer = 0;
        std::string stream;  // the stream it carries (ours on a send end)
        bool send = false;
        bool remote_set = false;
        std::vector<std::string> queued;  // remote candidates waiting for the remote description
    };

    ca::Client& client_;
    std::string mode_ = "mesh";
    bool media_lost_ = false;     // connections dropped with the transport: a resume must reset them
    bool server_offers_ = false;  // config offerer "server": the media server offers to subscribers
    std::string ice_servers_ = "[]";
    std::map<std::string, Publication> publications_;  // our streams, by name
    std::map<StreamKey, std::string> streams_;          // the room's streams -> stream JSON
    std::map<std::string, Pc> pcs_;
    static constexpr int kMaxResubscribes = 2;   // per announced stream, after a receiving connection failed
    std::map<StreamKey, int> resubscribes_;      // stream -> retries so far

    bool mesh() const { return mode_ == "mesh"; }
    ca::UserId me() const { return client_.user() ? client_.user()->id : 0; }
    // `close_on_error`: the connection to close when the server refuses.
    void request(std::string_view action, std::string_view stream, std::string data_json, std::string close_on_error = {});
    void rtc(std::string op, const std::string& pc, std::string extra = {});
    // A request about one of our published streams; media_error when it is not published.
    void stream_request(std::string_view action, std::string_view stream, std::string data_json);
    void media_error(std::string_view action, std::string_view stream, std::string_view code, std::string_view message);
    void create(const std::string& pc, bool send, ca::UserId peer, const std::string& stream, bool offers);
    void close(std::string pc);  // by value: callers pass keys of the map it erases from
    void close_all();
    void close_publishing(const std::string& stream);
    void drop_publication(const std::string& stream);  // the server dropped it: the application hears
    void subscribe_to(const StreamKey& stream);
    void emit_streams();
    void on_candidate(const StreamKey& owner, std::optional<ca::UserId> peer, std::string_view candidate);
};

}  // namespace compeit::agents
