#!/usr/bin/env bash
# runtime/ and bridges/ are a runtime for any application: they must not name
# the shop's message types, topics, roles, JSON fields or config keys. Every
# shop word found is printed with its place; exit 1 if there is one.
set -euo pipefail
top=${1:?usage: runtime_names_no_app.sh SOURCE_DIR}
words='order_created|order_item|payment_request|payment_result|notification_event|email_sent|order_snapshot'
words+='|order-created|payment-requests|payment-results|notification-events|email-sent|order-state|order-requests'
words+='|orderId|customerId|totalAmount'
words+='|"(order|payment|email|analytics|gateway)"|root/(order|payment|email|analytics|gateway)'
words+='|kastor\.(order|payment|email|analytics|gateway)\b|\b(payment|email|analytics|gateway|shop)\b'
words+='|(payment|order)\.[a-z-]+(-ms|-over|concurrency)|crash-after-(charge|send)'
found=$(grep -rnEi "$words" "$top/runtime" "$top/bridges" \
          --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.txt' \
          --include='*.cmake' --include='*.in' || true)
if [[ -n $found ]]; then
  echo "runtime/ and bridges/ name the shop (move it to actors/ or apps/, or say it generically):"
  echo "$found"
  exit 1
fi
echo "runtime/ and bridges/ name no word of the shop"
