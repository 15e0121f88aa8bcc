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

// One connection: a socket, what is being written and what waits behind it,
// and the decoder of what comes back.
struct RedisLink::Conn : std::enable_shared_from_this<RedisLink::Conn> {
    explicit Conn(asio::io_context& ioc) : socket(ioc), resolver(ioc) {}
    tcp::socket socket;
    tcp::resolver resolver;
    resp::Decoder decoder;
    std::array<char, 16 * 1024> buffer{};
    std::string writing, next;
    bool open = false;
    bool draining = false;  // subscriber of a lost attempt, read to its end
};

RedisLink::RedisLink(asio::io_context& ioc, RedisAddress address, cluster::Node& node, std::function<sio::Time()> now)
    : ioc_(ioc), address_(std::move(address)), node_(node), now_(std::move(now)), retry_(ioc) {}

RedisLink::~RedisLink() { stop(); }

void RedisLink::start() { connect(); }

void RedisLink::stop() {
    stopped_ = true;
    retry_.cancel();
    for (auto* c : {&commands_, &subscriber_})
        if (*c) {
            boost::system::error_code ec;
            (*c)->socket.close(ec);
        }
}

void RedisLink::connect() {
    // A subscriber connection still draining from the last attempt ends here:
    // what it had not delivered by now must not come after the new one's.
    if (subscriber_) {
        boost::system::error_code ec;
        subscriber_->socket.close(ec);
    }
    const unsigned generation = ++generation_;
    commands_ = std::make_shared<Conn>(ioc_);
    subscriber_ = std::make_shared<Conn>(ioc_);
    for (const auto& conn : {commands_, subscriber_}) {
        const bool is_commands = conn == commands_;
        conn->resolver.async_resolve(
            address_.host, address_.port,
            [this, conn, generation, is_commands](boost::system::error_code ec, tcp::resolver::results_type results) {
                if (ec) return lost(generation, "cannot resolve " + address_.host + ": " + ec.message());
                asio::async_connect(conn->socket, results, [this, conn, generation, is_commands](
                                                               boost::system::error_code ec2, const tcp::endpoint&) {
                    if (generation != generation_ || stopped_) return;
                    if (ec2) return lost(generation, ec2.message());
                    conn->socket.set_option(tcp::no_delay(true), ec2);
                    conn->open = true;
                    read(conn, generation, is_commands);  // replies of each connection go to their own door
                    connected_one();
                });
            });
    }
}

void RedisLink::connected_one() {
    if (!commands_->open || !subscriber_->open) return;
    up_ = true;
    backoff_ = std::chrono::milliseconds(100);
    log_event(LogLevel::info, LogFields{.event = "cluster_state"}, "cluster: connected to Redis at ", address_.host,
              ":", address_.port);
    node_.connected(now_());
    flush();
}

void RedisLink::lost(unsigned generation, const std::string& why) {
    if (generation != generation_ || stopped_) return;
    ++generation_;  // callbacks of these connections are ignored from now on...
    boost::system::error_code closed;
    commands_->socket.close(closed);
    // ...but for what Redis published before it went away: the subscriber
    // connection is read to its end (room messages already acked to their
    // senders), until it ends or the next attempt begins.
    subscriber_->draining = subscriber_->open;
    if (!subscriber_->draining) subscriber_->socket.close(closed);
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

void RedisLink::read(const std::shared_ptr<Conn>& conn, unsigned generation, bool is_commands) {
    conn->socket.async_read_some(
        asio::buffer(conn->buffer), [this, conn, generation, is_commands](boost::system::error_code ec, std::size_t n) {
            if (stopped_) return;
            if (generation != generation_) {  // a connection of a lost attempt: only a draining subscriber goes on
                if (!conn->draining || ec) return;
                conn->decoder.feed(std::string_view(conn->buffer.data(), n));
                while (auto v = conn->decoder.next()) node_.on_push(std::move(*v));
                if (!conn->decoder.failed()) read(conn, generation, is_commands);
                return;
            }
            if (ec) return lost(generation, ec == asio::error::eof ? "Redis closed the connection" : ec.message());
            conn->decoder.feed(std::string_view(conn->buffer.data(), n));
            while (auto v = conn->decoder.next()) {
                if (is_commands) node_.on_reply(std::move(*v));
                else node_.on_push(std::move(*v));
                if (generation != generation_) return;  // the node dropped the link meanwhile
            }
            if (conn->decoder.failed()) return lost(generation, "bad reply: " + conn->decoder.error());
            read(conn, generation, is_commands);
        });
}

// Whatever the node queued during this loop turn goes out in one write per
// connection (the pipeline); more queues behind a write in progress.
void RedisLink::flush() {
    if (!up_) return;
    for (auto& [conn, bytes] : {std::pair{commands_, node_.take_commands()}, std::pair{subscriber_, node_.take_subscriber()}}) {
        if (bytes.empty()) continue;
        conn->next += bytes;
        if (conn->writing.empty()) write(conn, generation_);
    }
}

void RedisLink::write(const std::shared_ptr<Conn>& conn, unsigned generation) {
    conn->writing = std::move(conn->next);
    conn->next.clear();
    asio::async_write(conn->socket, asio::buffer(conn->writing),
                      [this, conn, generation](boost::system::error_code ec, std::size_t) {
                          if (generation != generation_ || stopped_) return;
                          if (ec) return lost(generation, ec.message());
                          conn->writing.clear();
                          if (!conn->next.empty()) write(conn, generation);
                      });
}

}  // namespace compeit::native
