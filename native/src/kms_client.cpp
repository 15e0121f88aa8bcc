#include "kms_client.hpp"

#include <chrono>
#include <filesystem>

#include "compeit/kms/kurento_backend.hpp"
#include "log.hpp"

namespace compeit::native {

KmsClient::KmsClient(boost::asio::io_context& ioc, const std::string& url, MediaLink::Clock now)
    : link_(ioc, url, "the media server", "", std::move(now), endpoint_of(session_)) {
    session_.on_output = [this] { link_.frames_ready(); };
}

KmsClient::~KmsClient() { session_.on_output = nullptr; }  // its owners may be gone already

std::string KmsClient::record_uri(const std::string& dir) {
    if (dir.rfind("file://", 0) == 0) return dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
    std::error_code ec;
    auto path = std::filesystem::absolute(dir, ec).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return "file://" + path;
}

std::unique_ptr<agents::MediaBackend> KmsClient::make_backend(const std::string& record_dir) {
    kms::BackendConfig config;
    config.record_uri = record_uri(record_dir);
    config.wall_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    log_event(LogLevel::info, LogFields{.event = "media_config"}, "media server ", link_.url(), ", recordings in ",
              config.record_uri);
    return std::make_unique<kms::KurentoBackend>(session_, std::move(config));
}

}  // namespace compeit::native
