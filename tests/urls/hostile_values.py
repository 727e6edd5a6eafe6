"""Hostile parameter values for the network-policy tests (data only, no tests here).

``HOST_VALUES`` are values an attacker (or a careless user) could give a parameter that fills
a URL's host, such as Shopify's ``shopify_url`` in
``https://{{shopify_url}}/admin/oauth/access_token``. Every one must be refused before a
request leaves. A few are hostile only when they are the *whole* host (``localhost``,
``2130706433``): as the first label of ``{{tenant}}.example.com`` they make an ordinary
subdomain of the allowed site, so they carry ``whole_host_only=True``.

``PATH_VALUES`` are values for a parameter that fills one path segment (``api_version`` in
``/admin/api/{{api_version}}/graphql.json``) with the exact segment ``render_url`` must
produce, or ``None`` when the value must be refused.
"""

from __future__ import annotations

from typing import NamedTuple


class HostileValue(NamedTuple):
    label: str
    value: str
    whole_host_only: bool = False


class PathValue(NamedTuple):
    label: str
    value: str
    segment: str | None  # the encoded segment, or None: must be refused


HOST_VALUES: list[HostileValue] = [
    # another host, or the allowed host as a prefix/suffix of another
    HostileValue("other-host", "evil.com"),
    HostileValue("allowed-as-prefix", "x.myshopify.com.evil.com"),
    HostileValue("allowed-as-prefix-shop", "my-store.myshopify.com.evil.com"),
    HostileValue("bare-suffix", "myshopify.com"),
    HostileValue("two-labels-deep", "a.b.myshopify.com"),
    HostileValue("wildcard-value", "*.myshopify.com"),
    HostileValue("metadata-name", "metadata.google.internal"),
    # path, query, fragment, port, userinfo, scheme injection
    HostileValue("path-slash", "evil.com/"),
    HostileValue("path-then-suffix", "evil.com/.myshopify.com"),
    HostileValue("path-traversal", "my-store.myshopify.com/../../evil"),
    HostileValue("query-then-suffix", "evil.com?.myshopify.com"),
    HostileValue("fragment-then-suffix", "evil.com#.myshopify.com"),
    HostileValue("ampersand", "evil.com&x=.myshopify.com"),
    HostileValue("semicolon", "evil.com;.myshopify.com"),
    HostileValue("comma", "a,b.myshopify.com"),
    HostileValue("port-redis", "x.myshopify.com:6379"),
    HostileValue("port-default", "my-store.myshopify.com:443"),
    HostileValue("port-empty", "my-store.myshopify.com:"),
    HostileValue("userinfo-evil", "a@evil.com"),
    HostileValue("userinfo-shop", "user@my-store.myshopify.com"),
    HostileValue("userinfo-password", "evil.com:x@my-store.myshopify.com"),
    HostileValue("shop-then-at", "my-store.myshopify.com@evil.com"),
    HostileValue("full-url", "https://my-store.myshopify.com/admin"),
    HostileValue("scheme-relative", "//evil.com"),
    # label syntax
    HostileValue("underscore", "my_store.myshopify.com"),
    HostileValue("leading-hyphen", "-store.myshopify.com"),
    HostileValue("trailing-hyphen", "store-.myshopify.com"),
    HostileValue("trailing-dot", "my-store.myshopify.com."),
    HostileValue("leading-dot", ".myshopify.com"),
    HostileValue("empty-label", "my-store..myshopify.com"),
    HostileValue("dot", "."),
    HostileValue("dot-dot", ".."),
    HostileValue("empty", ""),
    HostileValue("label-64", "a" * 64 + ".myshopify.com"),
    HostileValue("host-over-253", ("a" * 63 + ".") * 4 + "myshopify.com"),
    # percent-encoding
    HostileValue("pct-slash", "evil.com%2F.myshopify.com"),
    HostileValue("pct-at", "evil.com%40my-store.myshopify.com"),
    HostileValue("pct-dot-dot", "%2e%2e"),
    HostileValue("pct-dots-in-name", "my-store%2emyshopify%2ecom"),
    HostileValue("pct-nul", "my-store.myshopify.com%00.evil.com"),
    HostileValue("pct-crlf", "my-store.myshopify.com%0d%0aHost:evil.com"),
    HostileValue("pct-alone", "my-store%.myshopify.com"),
    # backslash
    HostileValue("backslash-suffix", "evil.com\\.myshopify.com"),
    HostileValue("backslash-at", "evil.com\\@my-store.myshopify.com"),
    HostileValue("trailing-backslash", "my-store.myshopify.com\\"),
    # control characters and whitespace
    HostileValue("cr", "my-store.myshopify.com\r"),
    HostileValue("lf", "my-store.myshopify.com\n"),
    HostileValue("crlf-header", "my-store.myshopify.com\r\nX-Evil: 1"),
    HostileValue("nul", "my-store.myshopify.com\x00.evil.com"),
    HostileValue("tab", "my-store\t.myshopify.com"),
    HostileValue("vertical-tab", "\x0bmy-store.myshopify.com"),
    HostileValue("del", "my-store\x7f.myshopify.com"),
    HostileValue("c1-nel", "my-store\x85.myshopify.com"),
    HostileValue("space-inside", "my store.myshopify.com"),
    HostileValue("space-leading", " my-store.myshopify.com"),
    HostileValue("space-trailing", "my-store.myshopify.com "),
    HostileValue("nbsp", "my-store\u00a0.myshopify.com"),
    # IDNA and Unicode look-alikes
    HostileValue("fullwidth-dot", "my-store.myshopify\uff0ecom"),
    HostileValue("fullwidth-dot-evil", "evil\uff0ecom"),
    HostileValue("ideographic-dot", "my-store\u3002myshopify.com"),
    HostileValue("cyrillic-o", "my-st\u043ere.myshopify.com"),
    HostileValue("cyrillic-a", "\u0430pple.myshopify.com"),
    HostileValue("punycode-other-host", "xn--80ak6aa92e.com"),
    HostileValue("punycode-lookalike", "xn--pple-43d.com"),
    HostileValue("zero-width-joiner", "my-store\u200d.myshopify.com"),
    HostileValue("zero-width-space", "my\u200bstore.myshopify.com"),
    HostileValue("rtl-override", "\u202emoc.live.myshopify.com"),
    HostileValue("kelvin-sign", "\u212aey.myshopify.com"),
    HostileValue("long-s", "\u017fhop.myshopify.com"),
    HostileValue("fullwidth-letters", "\uff4d\uff59-store.myshopify.com"),
    HostileValue("combining-accent", "my-store\u0301.myshopify.com"),
    HostileValue("soft-hyphen", "my\u00adstore.myshopify.com"),
    # IP literals: metadata, private, loopback, in the spellings resolvers accept
    HostileValue("aws-metadata", "169.254.169.254"),
    HostileValue("private-10", "10.0.0.1"),
    HostileValue("private-192", "192.168.0.1"),
    HostileValue("loopback", "127.0.0.1"),
    HostileValue("loopback-short", "127.1"),
    HostileValue("loopback-hex-short", "0x7f.1"),
    HostileValue("loopback-octal", "0177.0.0.1"),
    HostileValue("loopback-decimal", "2130706433", whole_host_only=True),
    HostileValue("loopback-hex", "0x7f000001", whole_host_only=True),
    HostileValue("localhost", "localhost", whole_host_only=True),
    HostileValue("ipv6-loopback", "[::1]"),
    HostileValue("ipv6-loopback-bare", "::1"),
    HostileValue("ipv6-loopback-port", "[::1]:443"),
    HostileValue("ipv6-mapped-v4", "[::ffff:127.0.0.1]"),
    HostileValue("ipv6-aws-metadata", "[fd00:ec2::254]"),
]

#: Shop hostnames that must render, and the expected URLs: the rule of "Security checks" in
#: https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
SHOP_DOMAINS_ACCEPTED: list[tuple[str, str]] = [
    ("my-store.myshopify.com", "https://my-store.myshopify.com/admin/oauth/access_token"),
    ("store1.myshopify.com", "https://store1.myshopify.com/admin/oauth/access_token"),
    ("a.myshopify.com", "https://a.myshopify.com/admin/oauth/access_token"),
    ("My-Store.MyShopify.com", "https://my-store.myshopify.com/admin/oauth/access_token"),
]
SHOP_HANDLES_ACCEPTED: list[tuple[str, str]] = [
    ("my-store", "https://my-store.myshopify.com/admin/oauth/access_token"),
    ("store1", "https://store1.myshopify.com/admin/oauth/access_token"),
    ("a", "https://a.myshopify.com/admin/oauth/access_token"),
]

PATH_VALUES: list[PathValue] = [
    PathValue("traversal", "../../evil", "..%2F..%2Fevil"),
    PathValue("version-then-traversal", "2025-10/../../x", "2025-10%2F..%2F..%2Fx"),
    PathValue("pct-dot-dot", "%2e%2e", "%252e%252e"),
    PathValue("pct-slash", "..%2F", "..%252F"),
    PathValue("dot-dot", "..", None),
    PathValue("dot", ".", None),
    PathValue("slash", "a/b", "a%2Fb"),
    PathValue("query", "a?b=c", "a%3Fb=c"),
    PathValue("fragment", "a#frag", "a%23frag"),
    PathValue("backslash-traversal", "..\\..\\evil", "..%5C..%5Cevil"),
    PathValue("tomcat-dot-dot-semicolon", "..;", "..%3B"),
    PathValue("full-url", "https://evil.com", "https:%2F%2Fevil.com"),
    PathValue("space", "a b", "a%20b"),
    PathValue("non-ascii", "\u00e9", "%C3%A9"),
    PathValue("three-dots", "...", "..."),
    PathValue("crlf", "v1\r\nX-Evil: 1", None),
    PathValue("nul", "v1\x00", None),
    PathValue("tab", "v1\tx", None),
]
