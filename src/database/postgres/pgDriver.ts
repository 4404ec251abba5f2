/** node-postgres, loaded the fast way on every Node version (see navigatorDuringImport.ts). */
import { removeNavigator } from "./navigatorDuringImport.js";
import pg from "pg";

removeNavigator();

export default pg;
