#include "redis_link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "log.hpp"

namespace compeit::native {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Expected<RedisAddress, std::string> parse_redis_url(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    if (url.substr(0, scheme.size()) != scheme)
        return unexpected(std::string("the cluster URL must start with redis:// (for TLS, put a TLS proxy in between)"));
    std::string_view rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find_first_of("@/?#") != std::string_view::npos)
        return unexpected(std::string("the cluster URL takes only redis://HOST[:PORT]"));
    RedisAddress a;
    if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return unexpected(std::string("the cluster URL has an unclosed ["));
        a.host = std::string(rest.substr(1, close - 1));
        rest = rest.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return unexpected(std::string("the cluster URL's port must follow ':'"));
        if (!rest.empty()) a.port = std::string(rest.substr(1));
    } else {
        const auto colon = rest.find(':');
        a.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) a.port = std::string(rest.substr(colon + 1));
    }
    if (a.host.empty()) return unexpected(std::string("the cluster URL needs a host"));
    if (a.port.empty() || a.port.size() > 5 || a.port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(a.port) < 1 || std::stoi(a.port) > 65535)
        return unexpected(std::string("the cluster URL's port must be 1-65535"));
    return a;
}

// The connection: a socket, what is being written and what waits behind it,
// and the decoder of what comes back.
struct RedisLink::Conn : std::enable_shared_from_this<RedisLink::Conn> {
    explicit Conn(asio::io_context& ioc) : socket(ioc), resolver(ioc) {}
    tcp::socket socket;
    tcp::resolver resolver;
    resp::Decoder decoder;
    std::array<char, 16 * 1024> buffer{};
    std::string writing, next;
};

RedisLink::RedisLink(asio::io_context& ioc, RedisAddress address, cluster::Node& node, std::function<sio::Time()> now)
    : ioc_(ioc), address_(std::move(address)), node_(node), now_(std::move(now)), retry_(ioc) {}

RedisLink::~RedisLink() { stop(); }

void RedisLink::start() { connect(); }

void RedisLink::stop() {
    stopped_ = true;
    retry_.cancel();
    if (conn_) {
        boost::system::error_code ec;
        conn_->socket.close(ec);
    }
}

void RedisLink::connect() {
    const unsigned generation = ++generation_;
    conn_ = std::make_shared<Conn>(ioc_);
    conn_->resolver.async_resolve(
        address_.host, address_.port,
        [this, conn = conn_, generation](boost::system::error_code ec, tcp::resolver::results_type results) {
            if (generation != generation_ || stopped_) return;
            if (ec) return lost(generation, "cannot resolve " + address_.host + ": " + ec.message());
            asio::async_connect(conn->socket, results,
                                [this, conn, generation](boost::system::error_code ec2, const tcp::endpoint&) {
                                    if (generation != generation_ || stopped_) return;
                                    if (ec2) return lost(generation, ec2.message());
                                    conn->socket.set_option(tcp::no_delay(true), ec2);
                                    read(conn, generation);
                                    up_ = true;
                                    backoff_ = std::chrono::milliseconds(100);
                                    log_event(LogLevel::info, LogFields{.event = "cluster_state"},
                                              "cluster: connected to Redis at ", address_.host, ":", address_.port);
                                    node_.connected(now_());
                                    flush();
                                });
        });
}

void RedisLink::lost(unsigned generation, const std::string& why) {
    if (generation != generation_ || stopped_) return;
    ++generation_;  // callbacks of this connection are ignored from now on
    boost::system::error_code closed;
    conn_->socket.close(closed);
    if (up_)
        log_event(LogLevel::error, LogFields{.event = "cluster_state", .reason = why}, "cluster: lost Redis (", why,
                  "); requests that need it get `unavailable`");
    else
        log_event(LogLevel::warn, LogFields{.event = "cluster_state", .reason = why}, "cluster: cannot reach Redis at ",
                  address_.host, ":", address_.port, " (", why, ")");
    up_ = false;
    node_.disconnected();
    retry_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(2000));
    retry_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !stopped_) connect();
    });
}

void RedisLink::flush_soon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(ioc_, [this] {
        flush_posted_ = false;
        flush();
    });
}

// Replies and pushes share the stream: the node tells them apart. Everything
// Redis wrote before it went away is read and handed over before the loss is
// reported (room messages already acked to their senders are among it).
void RedisLink::read(const std::shared_ptr<Conn>& conn, unsigned generation) {
    conn->socket.async_read_some(
        asio::buffer(conn->buffer), [this, conn, generation](boost::system::error_code ec, std::size_t n) {
            if (stopped_ || generation != generation_) return;
            if (ec) return lost(generation, ec == asio::error::eof ? "Redis closed the connection" : ec.message());
            conn->decoder.feed(std::string_view(conn->buffer.data(), n));
            while (auto v = conn->decoder.next()) {
                node_.on_value(std::move(*v));
                if (generation != generation_) return;  // the link was lost meanwhile
            }
            if (conn->decoder.failed()) return lost(generation, "bad reply: " + conn->decoder.error());
            read(conn, generation);
        });
}

// Whatever the node queued during this loop turn goes out in one write (the
// pipeline); more queues behind a write in progress.
void RedisLink::flush() {
    if (!up_) return;
    std::string bytes = node_.take_commands();
    if (bytes.empty()) return;
    conn_->next += bytes;
    if (conn_->writing.empty()) write(conn_, generation_);
}

void RedisLink::write(const std::shared_ptr<Conn>& conn, unsigned generation) {
    conn->writing = std::move(conn->next);
    conn->next.clear();
    asio::async_write(conn->socket, asio::buffer(conn->writing),
                      [this, conn, generation](boost::system::error_code ec, std::size_t) {
                          if (generation != generation_ || stopped_) return;
                          // A failed write leaves the loss to the read side: it still
                          // hands over what Redis sent before the connection broke,
                          // then fails too (a broken socket does not read forever).
                          if (ec) return;
                          conn->writing.clear();
                          if (!conn->next.empty()) write(conn, generation);
                      });
}

}  // namespace compeit::native
