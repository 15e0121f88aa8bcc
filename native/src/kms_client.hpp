// The connection to Kurento Media Server (--kms-url): a kms::Session carried
// by a MediaLink, and the `kurento` media backend on it.
#pragma once

#include <memory>
#include <string>

#include "compeit/agents/media_backend.hpp"
#include "compeit/kms/session.hpp"
#include "media_link.hpp"

namespace compeit::native {

class KmsClient {
public:
    KmsClient(boost::asio::io_context& ioc, const std::string& url, MediaLink::Clock now);
    ~KmsClient();

    // The file:// URI recordings go under: `dir` as given when it is a file://
    // URI, else made absolute (it names a folder on the media server's host).
    static std::string record_uri(const std::string& dir);

    kms::Session& session() { return session_; }
    std::unique_ptr<agents::MediaBackend> make_backend(const std::string& record_dir);
    void start() { link_.start(); }
    void stop() { link_.stop(); }
    const MediaLink& link() const { return link_; }

private:
    kms::Session session_;
    MediaLink link_;
};

}  // namespace compeit::native
