print("kzforensics: under construction")
