"""Find a customer by anything a caller says: name, address, account, phone, email, meter."""
