// Package tlsx is the certificate side of weft's HTTPS: it loads certificate
// and key files, validates them, picks one per connection by SNI, staples
// OCSP responses, rotates session ticket keys, reloads changed files and, for
// development, issues certificates from a local CA.
//
// # Certificates
//
// Each [Pair] names a PEM certificate file (the leaf, optionally followed by
// its chain) and a PEM private key file. [New] refuses, with an error ready to
// print ("weft: tls: ..."), a missing file, a file without PEM data, a key that
// does not match its certificate, a leaf that has expired or is not yet valid,
// and (outside Windows) a key file that group or others may read or write
// unless [Options.AllowInsecureKeyPerms] is set. A leaf expiring within seven
// days is only a warning.
//
// A handshake gets, in order: the certificate of [Options.GetCertificate]
// (the ACME hook) if it returns one; the first pair whose leaf names the
// ClientHello's server name (exactly, or by a one-label wildcard), preferring
// among several the first the client can use (an ECDSA and an RSA pair for
// the same names); for a ClientHello without server name, the first pair
// whose leaf names the local IP address the client dialled; and otherwise the
// first pair, the default. The self-signed leaf, when enabled, comes after
// the pairs.
//
// # Reloading
//
// [Manager.Reload] re-reads every pair and replaces the whole set at once, or
// keeps the old set entirely when any pair fails. Files whose contents did not
// change are not a change: nothing is replaced, no OCSP response is fetched.
// [Manager.Watch] watches the directories of the files (editors and certbot
// replace files by rename, Kubernetes swaps a symlink) and reloads after 100ms
// of quiet. Connections already established keep the certificate they were
// handshaken with; the next handshake uses the new set.
//
// # The shared tls.Config
//
// [Manager.TLSConfig] returns one config whose certificate selection and
// session tickets go through the Manager (GetCertificate, WrapSession,
// UnwrapSession), so a change of certificates or of ticket keys needs no new
// config, and a clone (http.Server.ServeTLS clones its TLSConfig) follows the
// changes too. It allows TLS 1.2 and 1.3; for TLS 1.2 it offers only ECDHE
// key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), the Mozilla
// "intermediate" choice, which every browser since 2014 supports. Session
// ticket keys are replaced every 12 hours and the last three are accepted, so
// a ticket resumes for at most 36 hours and a stolen key exposes at most that
// window.
//
// # OCSP stapling
//
// For a leaf with an OCSP responder URL whose issuer is in the chain, a
// goroutine fetches a response, verifies it against the issuer, staples it
// when the status is Good, and refreshes it at half its validity (bounded to
// 1h..24h). A failure is logged and retried later; a staple past its
// NextUpdate is dropped rather than served. A leaf without a responder is
// served without a staple.
//
// # Self-signed certificates for development
//
// With [Options.SelfSigned], a local CA (ECDSA P-256, valid ten years) is
// created once in [Options.SelfSignedDir] (directory 0700, key 0600) and
// reused later; [Manager.CAPath] names its certificate, the file to trust.
// Each start issues a fresh leaf in memory for localhost, 127.0.0.1, ::1, the
// host name and [Options.ExtraNames]. Two processes creating the CA at the
// same instant in the same directory are not guarded against.
//
// # Concurrency
//
// All methods of a Manager are safe for concurrent use. Close stops the
// background goroutines (ticket rotation, OCSP, Watch); the config keeps
// serving the last certificates.
package tlsx
