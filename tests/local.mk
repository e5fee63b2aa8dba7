## tests — filled in below
