// The model payload's carrier (the #page-model gr.HTML's js_on_load; `props` and `watch` come
// from Gradio): no markup, its value handed to the pad now and on every change.
const take = () => {
  window.mnistDemoModel = props.value;
  window.dispatchEvent(new Event("mnist-model"));
};
take();
watch("value", take);
