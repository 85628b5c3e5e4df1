from superllm_cli.app import main

main()
