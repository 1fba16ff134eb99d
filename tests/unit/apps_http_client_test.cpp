// The HTTP client gives up on a server that does not answer within its
// timeout (a paused gateway holds the connection open and says nothing).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "kastor/apps/http_client.hpp"

using namespace std::chrono_literals;

TEST(HttpClient, GivesUpOnAServerThatNeverAnswersWithinItsTimeout) {
  // Given a listening socket nobody accepts from (the kernel completes the
  // connection; no byte ever comes back)
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  kastor::apps::http_client c{"127.0.0.1", ntohs(addr.sin_port), 300ms};
  // When a request is sent
  auto began = std::chrono::steady_clock::now();
  auto r = c.post_json("/api/orders", "{}");
  auto took = std::chrono::steady_clock::now() - began;
  // Then it fails as a timeout, about when its timeout ends (not 30 s later)
  ASSERT_FALSE(r);
  EXPECT_LT(took, 10s);
  EXPECT_GE(took, 250ms);
  ::close(fd);
}
