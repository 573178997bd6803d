"""Networks: IPAM, bridges and veths, port publishing, nftables rules and the embedded DNS."""
