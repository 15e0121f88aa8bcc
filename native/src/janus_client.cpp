#include "janus_client.hpp"

#include <chrono>
#include <filesystem>

#include "compeit/janus/janus_backend.hpp"
#include "log.hpp"

namespace compeit::native {

JanusClient::JanusClient(boost::asio::io_context& ioc, const std::string& url, MediaLink::Clock now)
    : link_(ioc, url, "Janus", "janus-protocol", std::move(now), endpoint_of(session_)) {
    session_.on_output = [this] { link_.frames_ready(); };
}

JanusClient::~JanusClient() { session_.on_output = nullptr; }  // its owners may be gone already

std::unique_ptr<agents::MediaBackend> JanusClient::make_backend(const std::string& record_dir) {
    janus::BackendConfig config;
    std::error_code ec;
    config.record_dir = std::filesystem::absolute(record_dir, ec).lexically_normal().string();
    while (config.record_dir.size() > 1 && config.record_dir.back() == '/') config.record_dir.pop_back();
    config.wall_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    log_event(LogLevel::info, LogFields{.event = "media_config"}, "Janus ", link_.url(), ", recordings in ",
              config.record_dir);
    return std::make_unique<janus::JanusBackend>(session_, std::move(config));
}

}  // namespace compeit::native
