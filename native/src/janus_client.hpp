// The connection to Janus (--janus-url, subprotocol "janus-protocol"): a
// janus::Session carried by a MediaLink, and the `janus` media backend on it.
#pragma once

#include <memory>
#include <string>

#include "compeit/agents/media_backend.hpp"
#include "compeit/janus/session.hpp"
#include "media_link.hpp"

namespace compeit::native {

class JanusClient {
public:
    JanusClient(boost::asio::io_context& ioc, const std::string& url, MediaLink::Clock now);
    ~JanusClient();


    janus::Session& session() { return session_; }
    std::unique_ptr<agents::MediaBackend> make_backend(const std::string& record_dir);
    void start() { link_.start(); }
    void stop() { link_.stop(); }
    const MediaLink& link() const { return link_; }

private:
    janus::Session session_;
    MediaLink link_;
};

}  // namespace compeit::native
