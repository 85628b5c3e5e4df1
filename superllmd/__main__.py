from superllmd.server import main

main()
