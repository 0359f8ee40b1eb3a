package kong

func configRows() []row { return nil }
func unitRows() []row   { return nil }
