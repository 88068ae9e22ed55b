() => {
  // Gradio 6.31 opens the Sketchpad with no tool selected, so strokes do nothing until the Brush
  // button is clicked (see docs/gradio.md); click it for the visitor, retrying until the editor
  // has rendered. #sketchpad is the Sketchpad's elem_id (SKETCHPAD_ID in tabs/draw.py).
  let tries = 0;
  const click = () => {
    const button = document.querySelector('#sketchpad button[aria-label="Brush"]');
    if (button) { button.click(); return; }
    if (tries++ < 100) setTimeout(click, 100);
  };
  click();
}
