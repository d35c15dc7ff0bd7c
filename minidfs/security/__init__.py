"""Secure mode (DESIGN.md §8, docs/security.md): the cluster CA and certificates
(pki.py), the identity a process presents and checks (credentials.py, peer.py), who
may call what (policy.py, enforced on every gRPC port by interceptor.py and on every
HTTP port by http_tls.py) and signed block tokens (block_tokens.py).

Simple mode (the default) imports none of this at run time except the small checks
that say "this cluster is not secure".
"""
