#include "protocol/tls_stream.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <utility>

namespace torchexam::protocol {
namespace asio = boost::asio;
namespace ssl = asio::ssl;

TlsStream::TlsStream(TlsSocket socket, size_t max_queued) : s_(std::make_shared<State>(std::move(socket))) {
  s_->max_queued = max_queued;
}

size_t TlsStream::room() const {
  const size_t used = s_->outbox.size() + s_->writing.size();
  return used >= s_->max_queued ? 0 : s_->max_queued - used;
}

size_t TlsStream::queue(const char* data, size_t size, boost::system::error_code& ec) {
  if (s_->closed) return ec = asio::error::bad_descriptor, 0;
  if (s_->error) return ec = s_->error, 0;
  const size_t n = std::min(size, room());
  if (n == 0) return ec = asio::error::would_block, 0;
  s_->outbox.append(data, n);
  drain(s_);
  return n;
}

void TlsStream::drain(const std::shared_ptr<State>& s) {
  if (s->closed || s->error || !s->writing.empty() || s->outbox.empty()) return;
  s->writing.swap(s->outbox);
  asio::async_write(s->ssl, asio::buffer(s->writing), [s](const boost::system::error_code& ec, size_t) {
    s->writing.clear();
    if (s->closed) return;
    if (ec) {
      s->error = ec;
      wake(s, ec);
      return check_drained(s);
    }
    drain(s);
    wake(s, {});
    check_drained(s);
  });
}

void TlsStream::check_drained(const std::shared_ptr<State>& s) {
  if (!s->drained) return;
  if (!s->closed && !s->error && (!s->outbox.empty() || !s->writing.empty())) return;
  std::exchange(s->drained, nullptr)();
}

void TlsStream::when_drained(std::function<void()> f) {
  s_->drained = std::move(f);
  asio::post(s_->ssl.get_executor(), [s = s_] { check_drained(s); });
}

void TlsStream::wake(const std::shared_ptr<State>& s, boost::system::error_code ec) {
  if (!s->waiter) return;
  auto h = std::exchange(s->waiter, nullptr);
  asio::post(s->ssl.get_executor(), [h = std::move(h), ec] { h(ec); });
}

void TlsStream::wait(std::function<void(boost::system::error_code)> h) {
  s_->waiter = std::move(h);
  if (s_->closed) return wake(s_, asio::error::operation_aborted);
  if (s_->error) return wake(s_, s_->error);
  if (room() > 0) wake(s_, {});
}

void TlsStream::close(boost::system::error_code& ec) {
  ec = {};
  if (s_->closed) return;
  s_->closed = true;
  wake(s_, asio::error::operation_aborted);
  check_drained(s_);
  if (s_->error) return close_socket(s_);  // the stream is broken: nothing more goes out
  // An orderly close: a close_notify, then the TCP socket closes once the
  // peer has answered with its own, or after kCloseNotifyWait.
  auto timer = std::make_shared<asio::steady_timer>(s_->ssl.get_executor(), kCloseNotifyWait);
  s_->ssl.async_shutdown([s = s_, timer](const boost::system::error_code&) {
    timer->cancel();
    close_socket(s);
  });
  timer->async_wait([s = s_](const boost::system::error_code& wait_ec) {
    if (!wait_ec) close_socket(s);  // the peer did not answer: the shutdown is aborted by the close
  });
}

void TlsStream::close_socket(const std::shared_ptr<State>& s) {
  auto& tcp = s->ssl.lowest_layer();
  if (!tcp.is_open()) return;
  boost::system::error_code ignored;
  // Shut down as well as closed: a copy of the descriptor a child process
  // inherited would otherwise keep the connection open.
  tcp.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  tcp.close(ignored);
}

std::string TlsStream::peer() const {
  boost::system::error_code ec;
  const auto ep = s_->ssl.lowest_layer().remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

namespace {

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

void readable(const std::string& file, const char* what) {
  if (file.empty()) throw std::runtime_error(std::string("no ") + what + " file given");
  std::ifstream in(file);
  if (!in) throw std::runtime_error(std::string("cannot read the ") + what + " file " + file);
}

void tls13_only(ssl::context& ctx) {
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION) != 1)
    throw std::runtime_error("this OpenSSL cannot require TLS 1.3: " + openssl_errors());
}

}  // namespace

ssl::context make_server_context(const std::string& cert_file, const std::string& key_file) {
  readable(cert_file, "TLS certificate (--tls-cert)");
  readable(key_file, "TLS key (--tls-key)");
  ssl::context ctx(ssl::context::tls_server);
  tls13_only(ctx);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.native_handle(), cert_file.c_str()) != 1)
    throw std::runtime_error("the TLS certificate " + cert_file +
                             " does not load (a PEM certificate chain is "
                             "expected): " +
                             openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx.native_handle(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      throw std::runtime_error("the TLS key " + key_file + " does not match the certificate " + cert_file +
                               " (give the key the certificate was made for): " + openssl_errors());
    throw std::runtime_error("the TLS key " + key_file +
                             " does not load (an unencrypted PEM private key is "
                             "expected): " +
                             openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error("the TLS key " + key_file + " does not match the certificate " + cert_file + ": " +
                             openssl_errors());
  return ctx;
}

ssl::context make_client_context(const std::string& ca_file) {
  readable(ca_file, "CA certificate (--ca-file)");
  ssl::context ctx(ssl::context::tls_client);
  tls13_only(ctx);
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx.native_handle(), ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error("the CA certificate " + ca_file +
                             " does not load (PEM certificates are expected): " + openssl_errors());
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

void tls_verify_host(TlsSocket& socket, const std::string& host) {
  SSL* s = socket.native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);  // an IP address is checked as one
  X509_VERIFY_PARAM* param = SSL_get0_param(s);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(s, host.c_str());  // SNI only for names
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
}

std::string tls_error_text(const boost::system::error_code& ec, TlsSocket& socket) {
  std::string text = ec.message();
  const long verify = SSL_get_verify_result(socket.native_handle());
  if (verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return text;
}

}  // namespace torchexam::protocol
