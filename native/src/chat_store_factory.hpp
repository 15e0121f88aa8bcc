// Which chat store the server uses, from --chat-db: SQLite in one file for
// one process (the default), PostgreSQL for servers sharing one history.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "chat_db.hpp"  // Retention
#include "compeit/agents/chat_store.hpp"

namespace compeit::native {

using Post = std::function<void(std::function<void()>)>;  // runs a completion on the network thread

// SQLite's group commit window (threaded_chat_store.hpp; --chat-commit-window).
inline constexpr std::chrono::milliseconds kDefaultSqliteCommitWindow{10};

// `url` (hostile until checked; errors and logs show it redacted):
//   ""                                  <data_dir>/chat.sqlite3 (SQLite)
//   sqlite:PATH                         that SQLite file
//   postgresql://... or postgres://...  PostgreSQL (a libpq URI), a PgChatStore
// Anything else is an error naming the scheme and what is allowed.
Expected<std::unique_ptr<agents::ChatStore>, std::string> open_chat_store(
    const std::string& url, const std::string& data_dir, Retention retention, Post post,
    std::chrono::microseconds sqlite_commit_window = kDefaultSqliteCommitWindow);

// What open_chat_store(url, data_dir) opens, for the log: a file path or the redacted URL.
std::string chat_store_location(const std::string& url, const std::string& data_dir);

}  // namespace compeit::native
