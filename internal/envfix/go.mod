module envfix

go 1.26.0
