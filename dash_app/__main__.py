from joulestream.dash_app.serve import main

main()
