from airwaves_media.agent import main

main()
