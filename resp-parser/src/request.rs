//! Request parsing for servers and proxies (multibulk and inline commands).
