"""gRPC channel and server settings in one place: message sizes, keepalive, deadlines.

Also where secure mode takes effect for gRPC (minidfs/security/credentials.py): a
channel to an address with credentials (a secure cluster's, or any from a secure
daemon) speaks mutual TLS with them; a secure daemon's server listens with
`require_client_auth` and runs the security interceptor first. Without credentials
(simple mode) all stays plaintext.

Every limit is named here so both ends agree: a message may carry several 64 KiB
packets, so the cap is well above the largest data message we send.
"""
from __future__ import annotations

import grpc

# A full block report of a million blocks is about 20 MB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Deadlines (seconds). Metadata calls are quick; data calls are bounded per message
# by the stream's own progress, with an overall cap.
METADATA_DEADLINE_S = 15.0
DATA_STREAM_DEADLINE_S = 600.0
CONNECT_TIMEOUT_S = 5.0
SERVER_MAX_CONCURRENT_RPCS = 512

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # Fail fast and retry ourselves: a dead node should not be waited on.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.enable_retries", 0),
    ("grpc.so_reuseport", 0),
    # Each channel owns its connections: a fresh channel to a node that restarted
    # connects at once instead of inheriting a shared connection's reconnect
    # backoff from the time the node was down (pipelines, re-replication).
    ("grpc.use_local_subchannel_pool", 1),
]

SERVER_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.so_reuseport", 0),
]


def _credentials():
    """The process's own (a secure daemon's) credentials: what its servers use."""
    from minidfs.security import credentials

    return credentials.current()


def _credentials_for(address: str):
    from minidfs.security import credentials

    return credentials.for_address(address)


def channel_credentials(creds) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=creds.ca_pem,
                                        private_key=creds.key_pem,
                                        certificate_chain=creds.cert_pem)


def sync_channel(address: str) -> grpc.Channel:
    creds = _credentials_for(address)
    if creds is not None:
        return grpc.secure_channel(address, channel_credentials(creds), options=CHANNEL_OPTIONS)
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


def aio_channel(address: str) -> grpc.aio.Channel:
    creds = _credentials_for(address)
    if creds is not None:
        return grpc.aio.secure_channel(address, channel_credentials(creds),
                                       options=CHANNEL_OPTIONS)
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


def aio_server(interceptors: list[grpc.aio.ServerInterceptor] | None = None) -> grpc.aio.Server:
    if _credentials() is not None:
        from minidfs.security.interceptor import SecurityInterceptor

        # First, so no other interceptor (metrics, limits) works for an unproven caller.
        interceptors = [SecurityInterceptor(), *(interceptors or [])]
    return grpc.aio.server(
        options=SERVER_OPTIONS, maximum_concurrent_rpcs=SERVER_MAX_CONCURRENT_RPCS,
        interceptors=interceptors,
    )


def add_port(server: grpc.aio.Server, address: str) -> int:
    """Listens on `address`: mutual TLS when this process has credentials."""
    creds = _credentials()
    if creds is None:
        return server.add_insecure_port(bind_address(address))
    server_creds = grpc.ssl_server_credentials(
        [(creds.key_pem, creds.cert_pem)], root_certificates=creds.ca_pem,
        require_client_auth=True)
    return server.add_secure_port(bind_address(address), server_creds)


def bind_address(address: str) -> str:
    """Where a daemon listens: exactly its configured host:port. Binding the named
    host (not 0.0.0.0) keeps a laptop cluster on loopback off the network, while a
    multi-host cluster names each host's reachable address in cluster.toml."""
    return address
