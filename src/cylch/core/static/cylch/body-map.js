// Report form: place injury marks on the body outline. Each click fills the next injury that
// has no mark yet (three at most), draws a dot there and moves focus to that injury's
// "where on the body" field.
const maps = document.querySelectorAll('.cylch-body-map--clickable');
let next = 0;
maps.forEach((svg) => svg.addEventListener('click', (event) => {
  if (next > 2) return;
  const box = svg.getBoundingClientRect();
  const x = (event.clientX - box.left) / box.width;
  const y = (event.clientY - box.top) / box.height;
  document.getElementById(`id_injury${next}-x`).value = x.toFixed(3);
  document.getElementById(`id_injury${next}-y`).value = y.toFixed(3);
  document.getElementById(`id_injury${next}-side`).value = svg.dataset.side;
  const dot = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
  dot.setAttribute('cx', (x * 100).toFixed(1));
  dot.setAttribute('cy', (y * 220).toFixed(1));
  dot.setAttribute('r', '4');
  dot.setAttribute('fill', '#d4351c');
  svg.appendChild(dot);
  document.getElementById(`id_injury${next}-location`).focus();
  next += 1;
}));
