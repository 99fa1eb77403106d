"""Django-free helpers: resident ID numbers, division codes, money, masking, secrets."""
