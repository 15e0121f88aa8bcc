// The address of a media server's WebSocket API: ws://host[:port][/path] or
// wss://... (TLS). IPv6 hosts in brackets; the port defaults to 80 / 443.
#pragma once

#include <string>

namespace compeit::native {

struct MediaUrl {
    std::string host, port, path;
    bool tls = false;
    std::string error;  // why the URL is unusable; empty when it is fine
};

MediaUrl parse_media_url(const std::string& url);

}  // namespace compeit::native
