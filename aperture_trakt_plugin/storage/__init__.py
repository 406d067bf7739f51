"""What the plugin keeps: its tables and their migrations, the key ring that seals
secrets, set-based bulk writes, the admin's settings and the rate budgets shared in
Redis."""
