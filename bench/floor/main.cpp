// compeit-floor: the least a server can do for compeit-loadgen's clients,
// to measure compeit-server against (issue 20). Not a server for anything else.
//
// It answers the socket.io 0.9 handshake (`GET /socket.io/1/` -> "sid:60:60:websocket"),
// upgrades `GET /socket.io/1/websocket/<sid>` (RFC 6455 accept key), says `1::`,
// answers the namespace connect with `connected`, puts a client in the room of its
// `join_room` (acked) and answers `room_joined`. A `room_message` is relayed as it came
// (the sender's packet text, which carries the generator's token): its frame is
// encoded once, and each recipient gets it with one send(2), nothing per recipient
// but that call. No JSON, no users, no acks, no history, no heartbeats, no limits.
//
// One thread, level-triggered epoll, non-blocking sockets. What a socket does
// not take is queued for it and written on EPOLLOUT, so nothing is lost.
//
//   compeit-floor [--bind 127.0.0.1] [--port 0]   prints "listening on http://ADDR:PORT"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "compeit/ws/frame.hpp"
#include "ws_accept.hpp"

namespace {

constexpr std::string_view kNs = "/connection_agent";
constexpr std::size_t kMaxHead = 8192;
constexpr std::size_t kMaxMessage = 1 << 20;

struct Conn {
    int fd = -1;
    bool ws = false;
    bool close_after_write = false;
    std::string in;   // HTTP head until the upgrade
    std::string out;  // what the kernel did not take yet
    std::unique_ptr<compeit::ws::Decoder> decoder;
    long room = -1;
    std::size_t room_index = 0;  // where in its room's vector
};

int g_epoll = -1;
std::unordered_map<int, std::unique_ptr<Conn>> g_conns;
std::unordered_map<long, std::vector<Conn*>> g_rooms;
unsigned long g_next_sid = 1;
char g_buf[64 * 1024];

void watch(Conn& c, bool want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
    ev.data.fd = c.fd;
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}

void close_conn(Conn& c) {
    if (c.room >= 0) {  // swap-remove from its room
        auto& v = g_rooms[c.room];
        Conn* last = v.back();
        v[c.room_index] = last;
        last->room_index = c.room_index;
        v.pop_back();
    }
    epoll_ctl(g_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    g_conns.erase(c.fd);  // destroys c
}

// One send per call; the rest (if any) waits for EPOLLOUT. False: the connection is gone.
bool send_bytes(Conn& c, std::string_view bytes) {
    if (!c.out.empty()) {
        c.out.append(bytes);
        return true;
    }
    const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const std::size_t taken = n < 0 ? 0 : static_cast<std::size_t>(n);
    if (taken < bytes.size()) {
        c.out.assign(bytes.substr(taken));
        watch(c, true);
    }
    return true;
}

void send_text(Conn& c, std::string_view text) {
    const auto h = compeit::ws::make_header(compeit::ws::Opcode::text, text.size());
    std::string frame(h.view());
    frame.append(text);
    send_bytes(c, frame);
}

std::string_view header_value(std::string_view head, std::string_view name) {
    std::size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
        pos += 2;
        if (head.size() - pos < name.size() + 1) break;
        if (strncasecmp(head.data() + pos, name.data(), name.size()) == 0 && head[pos + name.size()] == ':') {
            std::size_t v = pos + name.size() + 1;
            while (v < head.size() && head[v] == ' ') ++v;
            const std::size_t end = head.find("\r\n", v);
            return head.substr(v, end - v);
        }
    }
    return {};
}

// The HTTP request head: the handshake (answered, then closed) or the upgrade.
// False: close the connection.
bool on_http(Conn& c) {
    const std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() <= kMaxHead;
    const std::string_view head(c.in.data(), end + 2);
    if (head.starts_with("GET /socket.io/1/websocket/")) {
        const std::string accept = compeit::ws::accept_key(header_value(head, "Sec-WebSocket-Key"));
        const std::string rest = c.in.substr(end + 4);
        c.in.clear();
        c.in.shrink_to_fit();
        c.ws = true;
        c.decoder = std::make_unique<compeit::ws::Decoder>(kMaxMessage, compeit::ws::From::client);
        if (!rest.empty()) c.decoder->feed(rest);
        send_bytes(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: " + accept + "\r\n\r\n");
        send_text(c, "1::");
        return true;
    }
    if (head.starts_with("GET /socket.io/1/")) {
        const std::string body = std::to_string(g_next_sid++) + ":60:60:websocket";
        send_bytes(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body);
        c.close_after_write = true;
        return !c.out.empty();  // all taken: close now
    }
    send_bytes(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return false;
}

// The room message: the sender's packet text, framed once, one send per recipient.
// A chat message (type "chat") goes to the sender too, as compeit-server's does.
void relay(Conn& from, std::string_view text) {
    if (from.room < 0) return;
    const auto h = compeit::ws::make_header(compeit::ws::Opcode::text, text.size());
    std::string frame(h.view());
    frame.append(text);
    const bool to_self = text.find(R"("type":"chat")") != std::string_view::npos;
    std::vector<int> gone;
    for (Conn* m : g_rooms[from.room]) {
        if (m == &from && !to_self) continue;
        if (!send_bytes(*m, frame) && m != &from) gone.push_back(m->fd);  // the sender notices on its next read
    }
    for (int fd : gone)
        if (auto it = g_conns.find(fd); it != g_conns.end()) close_conn(*it->second);
}

void on_packet(Conn& c, std::string_view text) {
    static const std::string event_prefix = "5::" + std::string(kNs) + ":";
    static const std::string join_prefix = "5:1+:" + std::string(kNs) + ":";
    if (text.starts_with(event_prefix) && text.substr(event_prefix.size()).starts_with(R"({"name":"room_message")"))
        return relay(c, text);
    if (text == "1::" + std::string(kNs)) {
        send_text(c, "1::" + std::string(kNs));
        send_text(c, "5::" + std::string(kNs) + R"(:{"name":"connected","args":[{"user":{"id":)" +
                         std::to_string(c.fd) + "}}]}");
        return;
    }
    if (text.starts_with(join_prefix) && c.room < 0) {
        const std::size_t at = text.find(R"("room":)");
        if (at == std::string_view::npos) return;
        const long room = std::strtol(text.data() + at + 7, nullptr, 10);
        auto& members = g_rooms[room];
        c.room = room;
        c.room_index = members.size();
        members.push_back(&c);
        send_text(c, "6::" + std::string(kNs) + ":1+[]");
        send_text(c, "5::" + std::string(kNs) + R"(:{"name":"room_joined","args":[{"room":)" + std::to_string(room) +
                         "}]}");
    }
    // heartbeats and everything else: nothing
}

// False: close the connection.
bool on_ws(Conn& c, std::string_view bytes) {
    c.decoder->feed(bytes);
    for (;;) {
        auto next = c.decoder->next();
        if (!next) return false;
        if (!*next) return true;
        auto& m = **next;
        switch (m.opcode) {
            case compeit::ws::Opcode::text: on_packet(c, m.payload); break;
            case compeit::ws::Opcode::ping: {
                const auto h = compeit::ws::make_header(compeit::ws::Opcode::pong, m.payload.size());
                send_bytes(c, std::string(h.view()) + m.payload);
                break;
            }
            case compeit::ws::Opcode::close: return false;
            default: break;
        }
    }
}

void on_readable(Conn& c) {
    const ssize_t n = ::recv(c.fd, g_buf, sizeof g_buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) return close_conn(c);
    const std::string_view bytes(g_buf, static_cast<std::size_t>(n));
    bool keep;
    if (c.ws) {
        keep = on_ws(c, bytes);
    } else {
        c.in.append(bytes);
        keep = on_http(c);
    }
    if (!keep) close_conn(c);
}

void on_writable(Conn& c) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return close_conn(c);
    if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
    if (!c.out.empty()) return;
    if (c.close_after_write) return close_conn(c);
    std::string().swap(c.out);
    watch(c, false);
}

void accept_all(int listener) {
    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev);
        g_conns[fd] = std::move(c);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string bind = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view a = argv[i];
        if (a == "--bind") bind = argv[i + 1];
        else if (a == "--port") port = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "compeit-floor: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1 ||
        ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 4096) != 0) {
        std::perror("compeit-floor: listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("listening on http://%s:%d\n", bind.c_str(), ntohs(addr.sin_port));
    std::fflush(stdout);

    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = listener;
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, listener, &lev);
    epoll_event events[256];
    for (;;) {
        const int n = epoll_wait(g_epoll, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listener) {
                accept_all(listener);
                continue;
            }
            auto it = g_conns.find(fd);
            if (it == g_conns.end()) continue;  // closed by an earlier event of this batch
            if (events[i].events & EPOLLOUT) {
                on_writable(*it->second);
                it = g_conns.find(fd);
                if (it == g_conns.end()) continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(*it->second);
        }
    }
}
