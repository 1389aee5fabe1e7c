"""Outside systems payments talk to: the card processor (``processor``: the Protocol, its
HTTP form and its simulator)."""
