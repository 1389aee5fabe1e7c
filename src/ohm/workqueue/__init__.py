"""Work items: exceptions and approvals that a person must see and resolve."""
