"""The live event stream: one WebSocket per browser tab carrying everything live that is not a
Yjs document (notifications, comments, board moves, file lists, chat), with increasing ids and
exactly-once replay after a reconnect. The third engine: it imports neither `realtime/` nor
`sfu/` nor `web/`; the web app publishes into it and says who may see what."""
