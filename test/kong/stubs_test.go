package kong

func configRows() []row    { return nil }
func unitRows() []row      { return nil }
func encodingRows() []row  { return nil }
func streamingRows() []row { return nil }
