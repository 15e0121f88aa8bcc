#include "chat_store_factory.hpp"

#include <filesystem>

#include "db_url.hpp"
#include "pg_chat_store.hpp"
#include "threaded_chat_store.hpp"

namespace compeit::native {

namespace {

constexpr std::size_t kMaxUrlBytes = 4096;
constexpr const char* kAllowed =
    "use postgresql://USER@HOST[:PORT]/DB (or postgres://), sqlite:PATH, or no --chat-db for <data-dir>/chat.sqlite3";

// A scheme quoted back to the operator: short printable ASCII only.
std::string shown_scheme(const std::string& url) {
    std::string s = url_scheme(url);
    if (s.empty()) return "no URL scheme";
    if (s.size() > 32) s = s.substr(0, 32) + "...";
    return "unsupported URL scheme \"" + s + "\"";
}

bool has_control(const std::string& s) {
    for (const char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    return false;
}

std::string sqlite_path(const std::string& url, const std::string& data_dir) {
    if (url.empty()) return (std::filesystem::path(data_dir) / "chat.sqlite3").string();
    return url.substr(std::string_view("sqlite:").size());
}

bool is_postgres(const std::string& url) {
    return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

}  // namespace

std::string chat_store_location(const std::string& url, const std::string& data_dir) {
    if (url.empty() || url_scheme(url) == "sqlite") return sqlite_path(url, data_dir) + " (SQLite)";
    return redacted(url) + " (PostgreSQL)";
}

Expected<std::unique_ptr<agents::ChatStore>, std::string> open_chat_store(const std::string& url,
                                                                         const std::string& data_dir,
                                                                         Retention retention, Post post,
                                                                         std::chrono::microseconds sqlite_commit_window) {
    if (url.size() > kMaxUrlBytes)
        return unexpected("--chat-db: longer than " + std::to_string(kMaxUrlBytes) + " bytes");
    if (has_control(url)) return unexpected("--chat-db " + redacted(url) + ": control characters");
    const std::string scheme = url_scheme(url);
    if (url.empty() || scheme == "sqlite") {
        const std::string path = sqlite_path(url, data_dir);
        if (path.empty())
            return unexpected(std::string("--chat-db sqlite: needs a file path, e.g. sqlite:/var/lib/compeit/chat.sqlite3"));
        auto db = ChatDb::open(path, retention);
        if (!db) return unexpected(db.error());
        return std::unique_ptr<agents::ChatStore>(std::make_unique<ThreadedChatStore>(std::move(*db), std::move(post), sqlite_commit_window));
    }
    if ((scheme == "postgresql" || scheme == "postgres") && is_postgres(url)) {
        auto store = PgChatStore::open(url, retention, std::move(post));
        if (!store) return unexpected(store.error());
        return std::unique_ptr<agents::ChatStore>(std::move(*store));
    }
    if (scheme == "postgresql" || scheme == "postgres")
        return unexpected("--chat-db " + redacted(url) + ": a " + scheme + " URL starts with " + scheme + "://");
    return unexpected("--chat-db " + redacted(url) + ": " + shown_scheme(url) + "; " + kAllowed);
}

}  // namespace compeit::native
