// The Kurento Agent's client side: the WebRTC signalling state machine. It
// decides which peer connections exist, who offers, and when; queues remote
// candidates until a connection has its remote description; and cleans up
// when streams, users or rooms go. The host (JavaScript) only performs the
// RTCPeerConnection calls it is asked for, through Client events:
//
//   rtc {op:"create", pc, kind:"send"|"recv", offers, peer, iceServers}
//                                      offers: whether this end will make the
//                                      offer (a receiving end that offers adds
//                                      recvonly transceivers first)
//   rtc {op:"offer", pc}               createOffer + setLocalDescription, report "offer"
//   rtc {op:"answer", pc, sdp}         setRemoteDescription(offer), report "remote_set",
//                                      createAnswer + setLocalDescription, report "answer"
//   rtc {op:"remote_answer", pc, sdp}  setRemoteDescription(answer), report "remote_set"
//   rtc {op:"candidate", pc, candidate} addIceCandidate
//   rtc {op:"close", pc}
//
// and tells the application: media_config {mode, iceServers, offerer}, streams
// {streams:[{user,audio,video,filter,recording}]}, published {}, unpublished {}
// (the server dropped our stream), receive_failed {user} (its stream could not
// be received, retries spent), media_error {action, code, message}.
//
// Connection keys: "sub:<publisher>" receives a stream; "pub:<subscriber>"
// sends ours to one subscriber (mesh); "pub" sends ours to the media server
// (sfu). The subscriber offers, except where the media server does (config
// offerer "server", Janus): then "subscribe {user}" brings the server's offer
// and we answer. Every direction has its own connection, so offers never
// collide (no glare). Mute and unmute switch
// tracks off in the browser and announce the flags: no renegotiation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compeit/ca/client.hpp"

namespace compeit::agents {

class KurentoClient final : public ca::ClientAgent {
public:
    static constexpr const char* kType = "kurento";

    explicit KurentoClient(ca::Client& client);

    // Publishes the local media (the host has it ready) with these flags.
    void publish(bool audio, bool video);
    void unpublish();
    void update(bool audio, bool video);
    // sfu: record our published stream on the media server, or stop; a filter on it.
    void record(bool start);
    void set_filter(std::string_view filter);
    // What the host did: op is offer, answer, candidate, remote_set or failed.
    void report(std::string_view op, const std::string& pc, std::string_view payload_json);

    bool publishing() const { return publish_state_ != PublishState::none; }
    std::vector<std::string> connections() const;

    void on_server_message(std::string_view data) override;
    void on_room_message(ca::UserId from, std::string_view data) override;
    void on_membership(std::string_view event, std::string_view payload) override;

private:
    enum class PublishState { none, offering, requested, published };
    struct Pc {
        ca::UserId peer = 0;
        bool remote_set = false;
        std::vector<std::string> queued;  // remote candidates waiting for the remote description
    };

    ca::Client& client_;
    std::string mode_ = "mesh";
    bool server_offers_ = false;  // config offerer "server": the media server offers to subscribers
    std::string ice_servers_ = "[]";
    PublishState publish_state_ = PublishState::none;
    bool audio_ = true, video_ = true;
    std::map<ca::UserId, std::string> streams_;  // publisher -> stream JSON
    std::map<std::string, Pc> pcs_;
    static constexpr int kMaxResubscribes = 2;   // per announced stream, after a receiving connection failed
    std::map<ca::UserId, int> resubscribes_;     // publisher -> retries so far

    bool mesh() const { return mode_ == "mesh"; }
    ca::UserId me() const { return client_.user() ? client_.user()->id : 0; }
    // `close_on_error`: the connection to close when the server refuses.
    void request(std::string_view action, std::string data_json, std::string close_on_error = {});
    void rtc(std::string op, const std::string& pc, std::string extra = {});
    // A request about our published stream; media_error when there is none.
    void stream_request(std::string_view action, std::string data_json);
    void create(const std::string& pc, std::string_view kind, ca::UserId peer, bool offers);
    void close(std::string pc);  // by value: callers pass keys of the map it erases from
    void close_all();
    void close_publishing();
    void subscribe_to(ca::UserId publisher);
    void emit_streams();
    void on_candidate(ca::UserId owner, std::optional<ca::UserId> peer, std::string_view candidate);
};

}  // namespace compeit::agents
